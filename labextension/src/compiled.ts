// One notebook's compiled pipeline, recompiled from the editor's content (unsaved edits included) whenever
// cells, tags or sources change. The badges and the panel both show this one result.
import { NotebookPanel } from '@jupyterlab/notebook';
import { ICellModel } from '@jupyterlab/cells';
import { Signal } from '@lumino/signaling';

import { ApiError, ISpec, post } from './api';
import { cellInfos, renderBadges } from './badges';
import { isEmptyNotebook } from './cellroles';

const COMPILE_DELAY_MS = 400;

/** Cell models whose metadata changes are already followed (a cell is hooked once, however often cells change). */
const hooked = new WeakSet<ICellModel>();

export class CompiledNotebook {
  spec: ISpec | null = null; // the last pipeline that compiled: it stays on show under an error
  error: ApiError | null = null;
  empty = false;
  readonly changed = new Signal<this, void>(this);
  private timer = 0;
  private generation = 0;

  constructor(readonly panel: NotebookPanel) {
    void panel.context.ready.then(() => {
      const model = panel.content.model!;
      model.contentChanged.connect(this.soon, this);
      const hook = (): void => {
        for (const cell of panel.content.widgets) {
          if (!hooked.has(cell.model)) {
            hooked.add(cell.model);
            cell.model.metadataChanged.connect(this.soon, this);
          }
        }
        this.soon();
      };
      model.cells.changed.connect(hook);
      hook();
    });
  }

  private soon(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.compile(), COMPILE_DELAY_MS);
  }

  async compile(): Promise<void> {
    const nb = this.panel;
    await nb.context.ready;
    const generation = ++this.generation;
    const cells = cellInfos(nb);
    this.empty = isEmptyNotebook(cells);
    if (this.empty) {
      // nothing to compile yet: a hint, not an error
      this.spec = null;
      this.error = null;
    } else {
      try {
        const spec = await post<ISpec>('spec', { path: nb.context.path, content: nb.context.model.toJSON() });
        if (generation !== this.generation) {
          return; // a newer edit is being compiled
        }
        this.spec = spec;
        this.error = null;
      } catch (e) {
        if (generation !== this.generation) {
          return;
        }
        this.error = e instanceof ApiError ? e : new ApiError(String(e));
      }
    }
    renderBadges(nb, this.error ? null : this.spec);
    this.changed.emit();
  }
}
