// The Pipeline side panel, in tabs: Pipeline (messages, DAG, steps, run form with sweeps and Stop, the run on
// show, compile), Runs (list from the store, run details), Models, Features, Schedules. Everything on show
// comes from the server (the compiled spec, the store, the job folders), so a page reload loses nothing.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ApiError, IJob, IRunDetail, IRunRow, ISpec, post, query, request } from './api';
import { CompiledNotebook } from './compiled';
import { catalogView, IHost } from './catalog';
import { dagView } from './dagview';
import { h } from './dom';
import { formatValue } from './params';
import { RunDrive } from './rundrive';
import { cellIndexIn, duration, splitSweep, statusColor, sweepSize } from './runlogic';
import { RunsView } from './runs';
import { schedulesView } from './schedules';
import { stepColor } from './tags';

const POLL_MS = 700;
const TABS = ['pipeline', 'runs', 'models', 'features', 'schedules'] as const;
type Tab = (typeof TABS)[number];
const ACTIVE = new Set(['starting', 'running', 'pending']);

export class PipelinePanel extends Widget implements IHost {
  private nb: NotebookPanel | null = null;
  private compiled: CompiledNotebook | null = null;
  private job: IJob | null = null; // the run started from this page, while the worker reports on it
  private current: IRunDetail | null = null; // the run on show: the last one of this notebook, from the store
  private backends = ['local'];
  private tab: Tab = 'pipeline';
  private zoom = 1;
  // what the user typed in the run form survives re-rendering (every poll and every recompile re-renders)
  private form: { backend?: string; values: Record<string, string>; mode: string; objective: string } = {
    values: {},
    mode: 'grid',
    objective: ''
  };
  private timer = 0;
  private notice = '';
  private body = h('div', { class: 'nbmlops-body' });
  readonly runsView: RunsView;

  constructor(
    readonly app: JupyterFrontEnd,
    readonly drive: RunDrive
  ) {
    super();
    this.id = 'nbmlops-pipeline';
    this.addClass('nbmlops-panel');
    this.title.caption = 'Pipeline (nbmlops)';
    this.node.append(this.body);
    this.runsView = new RunsView(this);
    request<{ backends: string[] }>('info').then(
      info => ((this.backends = info.backends), this.render()),
      () => undefined
    );
    this.render();
  }

  get notebook(): NotebookPanel | null {
    return this.nb;
  }

  get spec(): ISpec | null {
    return this.compiled?.spec ?? null;
  }

  notebookPath(): string | null {
    return this.nb?.context.path ?? null;
  }

  /** The names of the steps of the pipeline on show (the last one that compiled), each once, in order. */
  stepNames(): string[] {
    return [...new Set((this.spec?.steps ?? []).map(s => s.name))];
  }

  showTab(tab: string): void {
    if ((TABS as readonly string[]).includes(tab)) {
      this.tab = tab as Tab;
      this.render();
      if (this.tab === 'runs') {
        void this.runsView.load();
      }
    }
  }

  setNotebook(nb: NotebookPanel | null, compiled: CompiledNotebook | null): void {
    if (nb === this.nb) {
      return;
    }
    this.compiled?.changed.disconnect(this.onCompiled, this);
    this.nb = nb;
    this.compiled = compiled;
    this.compiled?.changed.connect(this.onCompiled, this);
    this.job = null;
    this.current = null;
    this.form = { values: {}, mode: 'grid', objective: '' };
    this.runsView.reset();
    window.clearTimeout(this.timer);
    this.render();
    void this.loadLatestRun();
  }

  private onCompiled(): void {
    this.render();
  }

  async refresh(): Promise<void> {
    await this.compiled?.compile();
  }

  selectCell(index: number | null | undefined, line?: number | null): void {
    if (!this.nb || index === null || index === undefined || index < 0) {
      return;
    }
    const content = this.nb.content;
    this.app.shell.activateById(this.nb.id);
    content.activeCellIndex = index;
    content.deselectAll();
    void content.scrollToItem(index);
    const cell = content.widgets[index];
    if (cell && line) {
      // the failing line, selected in the cell's editor: the editor's selection highlights it
      const editor = cell.editor;
      const text = cell.model.sharedModel.getSource().split('\n')[line - 1] ?? '';
      editor?.setSelection({ start: { line: line - 1, column: 0 }, end: { line: line - 1, column: text.length } });
      cell.node.dataset.nbmlopsErrorLine = String(line);
      cell.addClass('nbmlops-error-cell');
    }
  }

  /** The run on show after a reload: the notebook's newest run from the store, followed while it runs. */
  private async loadLatestRun(): Promise<void> {
    const path = this.notebookPath();
    if (!path) {
      return;
    }
    try {
      const page = await request<{ runs: IRunRow[] }>(`runlist${query(path, { limit: 1 })}`);
      if (page.runs.length && this.notebookPath() === path && !this.job) {
        await this.showRun(page.runs[0].id);
      }
    } catch {
      // no store yet: nothing ran
    }
  }

  /** Show a run's details (from the store) as the current run; polled while it runs. */
  async showRun(runId: string): Promise<void> {
    const path = this.notebookPath();
    if (!path) {
      return;
    }
    this.drive.remember(runId, path);
    try {
      this.current = await request<IRunDetail>(`runs/${runId}${query(path)}`);
    } catch (e) {
      this.notice = (e as Error).message;
    }
    this.render();
    if (this.current?.run.status === 'running' && !this.job) {
      this.poll();
    }
  }

  async openStepNotebook(runId: string, step: string): Promise<void> {
    const path = this.notebookPath();
    if (!path) {
      return;
    }
    this.drive.remember(runId, path);
    const widget = (await this.app.commands.execute('docmanager:open', {
      path: this.drive.pathOf(runId, step),
      factory: 'Notebook',
      kernel: { name: null }
    })) as NotebookPanel | undefined;
    if (widget?.content?.model) {
      await widget.context.ready;
      widget.content.model.readOnly = true;
      // a record of a past run needs no kernel: stop the one the document manager started for it
      void widget.sessionContext.ready.then(
        () => widget.sessionContext.shutdown(),
        () => undefined
      );
      widget.title.label = `${step} · run ${runId.replace(/^\d{8}-/, '')} (read-only)`;
    }
  }

  render(): void {
    const b = this.body;
    const scroll = this.node.scrollTop;
    b.replaceChildren();
    if (!this.nb) {
      b.append(h('p', { class: 'nbmlops-empty' }, 'Open a notebook to see its pipeline.'));
      return;
    }
    b.append(
      h(
        'div',
        { class: 'nbmlops-header' },
        h('strong', { title: this.nb.context.path }, this.nb.context.path),
        h('button', { class: 'jp-mod-styled nbmlops-refresh', onclick: () => void this.refresh() }, 'Refresh')
      ),
      h(
        'div',
        { class: 'nbmlops-tabs', role: 'tablist' },
        ...TABS.map(t =>
          h(
            'button',
            {
              class: `nbmlops-tab${t === this.tab ? ' nbmlops-tab-active' : ''}`,
              role: 'tab',
              'data-tab': t,
              'aria-selected': String(t === this.tab),
              onclick: () => this.showTab(t)
            },
            t[0].toUpperCase() + t.slice(1)
          )
        )
      )
    );
    if (this.notice) {
      b.append(h('div', { class: 'nbmlops-warning nbmlops-notice', onclick: () => this.clearNotice() }, this.notice));
    }
    if (this.tab === 'pipeline') {
      this.renderPipeline(b);
    } else if (this.tab === 'runs') {
      b.append(this.runsView.node);
      this.runsView.render();
    } else if (this.tab === 'models' || this.tab === 'features') {
      b.append(catalogView(this, this.tab));
    } else {
      b.append(schedulesView(this));
    }
    this.node.scrollTop = scroll;
  }

  private clearNotice(): void {
    this.notice = '';
    this.render();
  }

  private renderPipeline(b: HTMLElement): void {
    const compiled = this.compiled;
    if (compiled?.empty) {
      b.append(
        h(
          'p',
          { class: 'nbmlops-hint' },
          'This notebook has no code yet. Write code cells, then mark where steps start with “Pipeline step…” ' +
            '(cell toolbar, context menu or the command palette); untagged notebooks run as one step.'
        )
      );
      return;
    }
    if (compiled?.error) {
      const err = compiled.error;
      b.append(h('div', { class: 'nbmlops-error', onclick: () => this.selectCell(err.cell) }, err.message));
    }
    const spec = this.spec;
    if (!spec) {
      return;
    }
    b.append(
      ...spec.warnings.map(w =>
        h('div', { class: 'nbmlops-warning', onclick: () => this.selectCell(cellIndexIn(w)) }, w)
      )
    );
    const status = this.stepStatus();
    b.append(
      h('h3', {}, 'DAG'),
      dagView({
        name: spec.name,
        steps: spec.steps,
        status,
        zoom: this.zoom,
        onClick: s => this.selectStep(s),
        onZoom: z => ((this.zoom = z), this.render())
      })
    );
    b.append(h('h3', {}, `Steps (${spec.steps.length})`), this.stepList(spec, status));
    b.append(h('h3', {}, 'Run'), this.runForm(spec));
    const live = this.liveView();
    if (live) {
      b.append(live);
    }
    b.append(h('h3', {}, 'Compile'), this.exportView());
  }

  /** Each step's status in the run on show: the live job while it reports, else the current run's record. */
  private stepStatus(): Map<string, string> {
    if (this.job) {
      return new Map(this.job.steps.map(s => [s.name, s.status]));
    }
    return new Map((this.current?.steps ?? []).map(s => [s.name, s.status]));
  }

  private selectStep(name: string): void {
    const step = this.spec?.steps.find(s => s.name === name);
    this.selectCell(step?.cells[0]?.index);
  }

  private stepList(spec: ISpec, status: Map<string, string>): HTMLElement {
    return h(
      'ul',
      { class: 'nbmlops-steps' },
      ...spec.steps.map(s => {
        const inputs = Object.entries(s.inputs).map(([v, from]) => `${v} ← ${from}`);
        const options = Object.entries(s.options ?? {}).map(([k, v]) => (v === true ? k : `${k}:${v}`));
        const st = status.get(s.name);
        return h(
          'li',
          { 'data-step': s.name, onclick: () => this.selectStep(s.name) },
          h('span', { class: 'nbmlops-dot', style: `background:${stepColor(s.name)}` }),
          h('b', {}, s.name),
          options.length ? h('span', { class: 'nbmlops-options' }, options.join(' ')) : null,
          st ? h('span', { class: `nbmlops-status nbmlops-${st.replace(' ', '-')}` }, st) : null,
          h('div', { class: 'nbmlops-io' }, inputs.length ? `in: ${inputs.join(', ')}` : 'in: —'),
          h('div', { class: 'nbmlops-io' }, s.outputs.length ? `out: ${s.outputs.join(', ')}` : 'out: —')
        );
      })
    );
  }

  private running(): boolean {
    return (
      (this.job !== null && ACTIVE.has(this.job.status)) ||
      (this.job === null && this.current?.run.status === 'running')
    );
  }

  private runForm(spec: ISpec): HTMLElement {
    const state = this.form;
    const backend = h('select', { name: 'backend' }, ...this.backends.map(n => h('option', { value: n }, n)));
    backend.value = state.backend ?? this.backends[0];
    backend.addEventListener('change', () => (state.backend = backend.value));
    const texts = (): Record<string, string> =>
      Object.fromEntries(spec.parameters.map(p => [p.name, state.values[p.name] ?? formatValue(p)]));
    const sweepInfo = h('div', { class: 'nbmlops-sweep-info' });
    const describeSweep = (): void => {
      let text = '';
      try {
        const { sweep } = splitSweep(spec.parameters, texts());
        const names = Object.keys(sweep);
        text = names.length ? `Sweep over ${names.join(', ')}: ${sweepSize(sweep, state.mode)} runs` : '';
      } catch (e) {
        text = (e as Error).message;
      }
      sweepInfo.textContent = text;
      sweepBox.hidden = !text.startsWith('Sweep');
      run.textContent = this.running() ? 'Running…' : text.startsWith('Sweep') ? 'Run sweep' : 'Run';
    };
    const fields = spec.parameters.map(p => {
      const input = h('input', { name: p.name, value: state.values[p.name] ?? formatValue(p), title: p.type });
      input.addEventListener('input', () => ((state.values[p.name] = input.value), describeSweep()));
      return h('label', { class: 'nbmlops-param' }, h('span', {}, p.name), input, h('small', {}, p.type));
    });
    const mode = h('input', { name: 'sweep-mode', value: state.mode, placeholder: 'grid or random:N' });
    mode.addEventListener('input', () => ((state.mode = mode.value.trim() || 'grid'), describeSweep()));
    const objective = h('input', { name: 'objective', value: state.objective, placeholder: 'e.g. metrics.auc:max' });
    objective.addEventListener('input', () => (state.objective = objective.value.trim()));
    const sweepBox = h(
      'div',
      { class: 'nbmlops-sweep' },
      h('label', {}, h('span', {}, 'sweep'), mode),
      h('label', {}, h('span', {}, 'objective'), objective)
    );
    const message = h('div', { class: 'nbmlops-form-error' });
    const running = this.running();
    const run = h('button', { class: 'jp-mod-styled jp-mod-accept nbmlops-run', type: 'submit' }, 'Run');
    run.disabled = running;
    const stop = h(
      'button',
      { class: 'jp-mod-styled jp-mod-warn nbmlops-stop', type: 'button', onclick: () => void this.stop() },
      'Stop'
    );
    stop.hidden = !running;
    const form = h(
      'form',
      { class: 'nbmlops-run-form' },
      h('label', { class: 'nbmlops-param' }, h('span', {}, 'backend'), backend),
      ...fields,
      h('small', { class: 'nbmlops-help' }, 'Several values, comma-separated (C = 0.1, 1, 10), run a sweep.'),
      sweepInfo,
      sweepBox,
      h('div', { class: 'nbmlops-buttons' }, run, stop),
      message
    );
    describeSweep();
    form.addEventListener('submit', e => {
      e.preventDefault();
      try {
        const { values, sweep } = splitSweep(spec.parameters, texts());
        void this.start(backend.value, values, sweep);
      } catch (err) {
        message.textContent = (err as Error).message;
      }
    });
    return form;
  }

  /** Run (or sweep) with the form's values; the palette's "Run pipeline" comes here too. */
  async start(backend?: string, params?: Record<string, unknown>, sweep: Record<string, string> = {}): Promise<void> {
    if (!this.nb || this.running()) {
      return;
    }
    const spec = this.spec;
    if (params === undefined) {
      if (!spec) {
        this.notice = 'The notebook does not compile: fix the message above first.';
        return this.render();
      }
      const split = splitSweep(
        spec.parameters,
        Object.fromEntries(spec.parameters.map(p => [p.name, this.form.values[p.name] ?? formatValue(p)]))
      );
      params = split.values;
      sweep = split.sweep;
    }
    backend = backend ?? this.form.backend ?? this.backends[0];
    this.notice = '';
    if (this.nb.context.model.dirty) {
      await this.nb.context.save(); // the run reads the file: run what the user sees
    }
    const path = this.nb.context.path;
    try {
      this.job = Object.keys(sweep).length
        ? await post<IJob>('sweeps', {
            path,
            backend,
            params,
            sweep: { fields: sweep, mode: this.form.mode, objective: this.form.objective }
          })
        : await post<IJob>('runs', { path, backend, params });
    } catch (e) {
      this.notice = (e as Error).message;
      this.selectCell((e as ApiError).cell);
      return this.render();
    }
    this.render();
    this.poll();
  }

  async stop(): Promise<void> {
    const path = this.notebookPath();
    if (!path) {
      return;
    }
    try {
      if (this.job && ACTIVE.has(this.job.status)) {
        this.job = await post<IJob>(`jobs/${this.job.id}/stop`, { path });
      } else if (this.current?.run.status === 'running') {
        await post(`runs/${this.current.run.id}/stop`, { path });
      }
      this.notice = 'Stopping: the running step is interrupted, finished steps keep their outputs.';
    } catch (e) {
      this.notice = (e as Error).message;
    }
    this.render();
  }

  private poll(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.pollOnce(), POLL_MS);
  }

  private async pollOnce(): Promise<void> {
    const path = this.notebookPath();
    const job = this.job;
    const before = JSON.stringify([job, this.current?.run.status, this.current?.steps.map(s => s.status)]);
    try {
      if (job) {
        const latest = await request<IJob>(`jobs/${job.id}`);
        if (this.job !== job) {
          return; // another notebook or run took over meanwhile
        }
        this.job = latest;
        if (!ACTIVE.has(latest.status)) {
          this.job = null;
          if (latest.status === 'failed') {
            this.selectCell(latest.error?.cell, latest.error?.line);
          }
          if (latest.run_id) {
            await this.showRun(latest.run_id);
          } else if (latest.error) {
            this.notice = latest.error.message;
          }
          void this.runsView.load();
          return this.render();
        }
      } else if (this.current?.run.status === 'running' && path) {
        this.current = await request<IRunDetail>(`runs/${this.current.run.id}${query(path)}`);
        if (this.current.run.status !== 'running') {
          void this.runsView.load();
        }
      } else {
        return;
      }
    } catch (e) {
      if (job && this.job === job && job.run_id) {
        // a restarted server no longer knows the job: follow its run in the store instead
        this.job = null;
        await this.showRun(job.run_id);
        return;
      }
      this.notice = (e as Error).message;
    }
    const after = JSON.stringify([this.job, this.current?.run.status, this.current?.steps.map(s => s.status)]);
    if (after !== before) {
      this.render(); // only on news: re-rendering takes the focus from a field being typed in
    }
    this.poll();
  }

  /** The run on show: live steps of the job, or the current run from the store, with a link to its details. */
  private liveView(): HTMLElement | null {
    const job = this.job;
    const run = this.current;
    if (!job && !run) {
      return null;
    }
    const status = job ? job.status : run!.run.status;
    const runId = job ? job.run_id : run!.run.id;
    const steps = job
      ? job.steps.map(s => ({ name: s.name, status: s.status, seconds: s.seconds ?? null, detail: s.detail ?? '' }))
      : run!.steps.map(s => ({ name: s.name, status: s.status, seconds: s.duration, detail: s.why }));
    const error: { message: string | null; cell?: number | null; line?: number | null } | null = job
      ? job.error
      : (run!.steps.find(s => s.error)?.error ?? (run!.run.error ? { message: run!.run.error, cell: null } : null));
    const sweep = job?.sweep?.points ? ` · sweep of ${job.sweep.points} runs` : '';
    return h(
      'div',
      { class: `nbmlops-job nbmlops-job-${status}`, 'data-status': status },
      h(
        'div',
        { class: 'nbmlops-job-head' },
        h('b', {}, runId ? `Run ${runId.replace(/^\d{8}-/, '')}` : 'Run'),
        h('span', { class: `nbmlops-status nbmlops-${status}` }, status),
        sweep,
        runId
          ? h(
              'button',
              {
                class: 'nbmlops-link nbmlops-details',
                onclick: () => {
                  this.tab = 'runs';
                  void this.runsView.open(runId);
                }
              },
              'details'
            )
          : null
      ),
      h(
        'ul',
        { class: 'nbmlops-job-steps' },
        ...steps.map(s =>
          h(
            'li',
            { 'data-step': s.name, 'data-status': s.status },
            h('span', { class: 'nbmlops-dot', style: `background:${statusColor(s.status) ?? '#999'}` }),
            h('span', { class: `nbmlops-status nbmlops-${s.status.replace(' ', '-')}` }, s.status),
            ` ${s.name}`,
            s.seconds !== null ? h('small', {}, ` ${duration(s.seconds)}`) : null,
            s.detail ? h('small', { class: 'nbmlops-why' }, ` · ${s.detail}`) : null,
            runId && !job && run?.steps.find(x => x.name === s.name)?.notebook
              ? h(
                  'button',
                  { class: 'nbmlops-link', onclick: () => void this.openStepNotebook(runId, s.name) },
                  'open notebook'
                )
              : null
          )
        )
      ),
      error?.message
        ? h('pre', { class: 'nbmlops-error', onclick: () => this.selectCell(error.cell, error.line) }, error.message)
        : null
    );
  }

  async stopRun(runId: string): Promise<void> {
    const path = this.notebookPath();
    if (!path) {
      return;
    }
    try {
      await post(`runs/${runId}/stop`, { path });
      this.notice = 'Stopping: the running step is interrupted, finished steps keep their outputs.';
    } catch (e) {
      this.notice = (e as Error).message;
    }
    this.render();
  }

  /** A cell under the active one with the runs widget, for charts of metrics across runs. */
  insertWidgetsCell(): void {
    const nb = this.nb;
    const spec = this.spec;
    if (!nb) {
      return;
    }
    this.app.shell.activateById(nb.id);
    void this.app.commands.execute('notebook:insert-cell-below').then(() => {
      const cell = nb.content.activeCell;
      cell?.model.sharedModel.setSource(
        `from nbmlops.widgets import RunsBrowser\n\nRunsBrowser(pipeline="${spec?.name ?? ''}")`
      );
      if (cell) {
        cell.model.setMetadata('tags', ['skip']);
      }
    });
  }

  async exportTo(target: string): Promise<string> {
    if (!this.nb) {
      return '';
    }
    if (this.nb.context.model.dirty) {
      await this.nb.context.save();
    }
    try {
      const r = await post<{ written: string[] }>('export', { path: this.nb.context.path, target });
      return `wrote ${r.written.join(', ')}`;
    } catch (e) {
      return (e as Error).message;
    }
  }

  private exportView(): HTMLElement {
    const out = h('div', { class: 'nbmlops-export-result' });
    const go = async (target: string): Promise<void> => {
      out.textContent = await this.exportTo(target);
    };
    return h(
      'div',
      { class: 'nbmlops-export' },
      ...[
        ['json', 'pipeline.json'],
        ['papermill', 'papermill folder'],
        ['ray', 'Ray module']
      ].map(([t, label]) =>
        h('button', { class: 'jp-mod-styled', 'data-target': t, onclick: () => void go(t) }, label)
      ),
      out
    );
  }
}
