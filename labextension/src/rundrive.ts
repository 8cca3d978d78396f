// A read-only contents drive over the run folders: `nbmlops-runs:<run id>/<step>.ipynb` is that step's executed
// notebook (papermill backend), so JupyterLab opens it as a notebook document with its outputs, not as HTML.
// Run folders live in the hidden .nbmlops/ home, which the server's contents manager would not serve.
import { Contents, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { query, request } from './api';

export const DRIVE = 'nbmlops-runs';

function refused(what: string): Promise<never> {
  return Promise.reject(new Error(`step notebooks of past runs are read-only (${what})`));
}

export class RunDrive implements Contents.IDrive {
  readonly name = DRIVE;
  readonly serverSettings = ServerConnection.makeSettings();
  private notebookOf = new Map<string, string>(); // run id -> the notebook whose home holds it
  private changed = new Signal<this, Contents.IChangedArgs>(this);
  private disposed = false;

  /** Where run `runId`'s records are: the project home of this notebook (its contents-API path). */
  remember(runId: string, notebookPath: string): void {
    this.notebookOf.set(runId, notebookPath);
  }

  /** The path to open (`nbmlops-runs:20261203-…/train.ipynb`). */
  pathOf(runId: string, step: string): string {
    return `${DRIVE}:${runId}/${step}.ipynb`;
  }

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this.changed;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    this.disposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const m = /^([\w-]+)\/([A-Za-z0-9_-]+)\.ipynb$/.exec(localPath);
    const notebook = m ? this.notebookOf.get(m[1]) : undefined;
    if (!m || !notebook) {
      throw new Error(`no step notebook at ${localPath} (open it from a run in the Pipeline panel)`);
    }
    const content =
      options?.content === false
        ? null
        : await request<unknown>(`runs/${m[1]}/steps/${m[2]}/notebook${query(notebook)}`);
    const now = new Date().toISOString();
    return {
      name: `${m[2]}.ipynb`,
      path: localPath,
      type: 'notebook',
      format: 'json',
      mimetype: 'application/x-ipynb+json',
      writable: false,
      created: now,
      last_modified: now,
      content
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return '';
  }

  newUntitled(): Promise<Contents.IModel> {
    return refused('new file');
  }

  delete(): Promise<void> {
    return refused('delete');
  }

  rename(): Promise<Contents.IModel> {
    return refused('rename');
  }

  save(): Promise<Contents.IModel> {
    return refused('save');
  }

  copy(): Promise<Contents.IModel> {
    return refused('copy');
  }

  async createCheckpoint(): Promise<Contents.ICheckpointModel> {
    return { id: 'none', last_modified: new Date().toISOString() };
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  async restoreCheckpoint(): Promise<void> {
    return refused('restore');
  }

  async deleteCheckpoint(): Promise<void> {
    return;
  }
}
