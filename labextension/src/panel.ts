// The Pipeline side panel: steps, DAG, compiler messages, run form with live status, past runs, export.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IFrame, MainAreaWidget } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { apiUrl, ApiError, IJob, IRunRow, ISpec, post, request } from './api';
import { layout, NODE_H, NODE_W } from './dag';
import { h } from './dom';
import { formatValue, parseValue } from './params';
import { stepColor } from './tags';

const SVG = 'http://www.w3.org/2000/svg';
const POLL_MS = 700;

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, String(v)));
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

export function dagSvg(spec: ISpec, onClick: (step: string) => void): SVGElement {
  const l = layout(spec.steps);
  const root = svg('svg', { viewBox: `0 0 ${l.width} ${l.height}`, class: 'nbmlops-dag', role: 'img' });
  root.style.minWidth = `${Math.round(l.width / 2)}px`;
  root.style.maxWidth = `${l.width}px`;
  root.append(svg('title', {}, `DAG of ${spec.name}`));
  const at = new Map(l.nodes.map(n => [n.name, n]));
  for (const e of l.edges) {
    const a = at.get(e.from)!;
    const b = at.get(e.to)!;
    const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2];
    const mid = (x1 + x2) / 2;
    root.append(svg('path', { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}`, class: 'nbmlops-edge' }));
    root.append(svg('path', { d: `M${x2 - 6},${y2 - 4} L${x2},${y2} L${x2 - 6},${y2 + 4}`, class: 'nbmlops-edge' }));
  }
  for (const n of l.nodes) {
    const g = svg('g', { class: 'nbmlops-node', 'data-step': n.name, transform: `translate(${n.x},${n.y})` });
    g.append(svg('rect', { width: NODE_W, height: NODE_H, rx: 6, fill: stepColor(n.name) }));
    const label = n.name.length > 16 ? n.name.slice(0, 15) + '…' : n.name;
    g.append(svg('text', { x: NODE_W / 2, y: NODE_H / 2 + 4, 'text-anchor': 'middle' }, label));
    g.append(svg('title', {}, n.name));
    g.addEventListener('click', () => onClick(n.name));
    root.append(g);
  }
  return root;
}

/** A run id without its date (runs of one notebook are mostly from the same days): `051904-619888`. */
function shortId(id: string): string {
  return id.replace(/^\d{8}-/, '');
}

export class PipelinePanel extends Widget {
  private nb: NotebookPanel | null = null;
  private spec: ISpec | null = null;
  private job: IJob | null = null;
  private runs: IRunRow[] = [];
  private compare = new Set<string>();
  private backends = ['local'];
  // what the user typed in the run form survives re-rendering (every poll and every recompile re-renders)
  private form: { backend?: string; values: Record<string, string> } = { values: {} };
  private timer = 0;
  private body = h('div', { class: 'nbmlops-body' });

  constructor(private app: JupyterFrontEnd) {
    super();
    this.id = 'nbmlops-pipeline';
    this.addClass('nbmlops-panel');
    this.title.caption = 'Pipeline (nbmlops)';
    this.node.append(this.body);
    request<{ backends: string[] }>('info').then(
      info => ((this.backends = info.backends), this.render()),
      () => undefined
    );
    this.render();
  }

  get notebook(): NotebookPanel | null {
    return this.nb;
  }

  /** The names of the steps of the pipeline on show (the last one that compiled), each once, in order. */
  stepNames(): string[] {
    return [...new Set((this.spec?.steps ?? []).map(s => s.name))];
  }

  setNotebook(nb: NotebookPanel | null): void {
    if (nb === this.nb) {
      return;
    }
    this.nb = nb;
    this.spec = null;
    this.job = null;
    this.runs = [];
    this.compare.clear();
    this.form = { values: {} };
    void this.refresh().then(() => this.loadRuns());
  }

  /** Recompile from the notebook as it is in the editor (unsaved edits included). */
  async refresh(): Promise<void> {
    const nb = this.nb;
    if (!nb) {
      return this.render();
    }
    await nb.context.ready;
    try {
      this.spec = await post<ISpec>('spec', { path: nb.context.path, content: nb.context.model.toJSON() });
      this.error = null;
    } catch (e) {
      // the last good pipeline stays on show under the error, so fixing a tag doesn't make the panel jump
      this.error = e instanceof ApiError ? e : new ApiError(String(e));
    }
    this.render();
  }

  private error: ApiError | null = null;
  private notice = '';

  selectCell(index: number | null | undefined): void {
    if (!this.nb || index === null || index === undefined) {
      return;
    }
    const content = this.nb.content;
    this.app.shell.activateById(this.nb.id);
    content.activeCellIndex = index;
    content.deselectAll();
    void content.scrollToItem(index);
  }

  private cellOf(text: string): number | null {
    const m = /cell (\d+)/.exec(text);
    return m ? Number(m[1]) : null;
  }

  render(): void {
    const b = this.body;
    b.replaceChildren();
    if (!this.nb) {
      b.append(h('p', { class: 'nbmlops-empty' }, 'Open a notebook to see its pipeline.'));
      return;
    }
    b.append(
      h(
        'div',
        { class: 'nbmlops-header' },
        h('strong', {}, this.nb.context.path),
        h('button', { class: 'jp-mod-styled nbmlops-refresh', onclick: () => void this.refresh() }, 'Refresh')
      )
    );
    if (this.error) {
      b.append(
        h('div', { class: 'nbmlops-error', onclick: () => this.selectCell(this.error?.cell) }, this.error.message)
      );
    }
    const spec = this.spec;
    if (spec) {
      b.append(
        ...spec.warnings.map(w =>
          h('div', { class: 'nbmlops-warning', onclick: () => this.selectCell(this.cellOf(w)) }, w)
        )
      );
      b.append(
        h('h3', {}, 'DAG'),
        h(
          'div',
          { class: 'nbmlops-dag-box' },
          dagSvg(spec, s => this.selectStep(s))
        )
      );
      b.append(h('h3', {}, `Steps (${spec.steps.length})`), this.stepList(spec));
      b.append(h('h3', {}, 'Run'), this.runForm(spec));
    }
    if (this.job) {
      b.append(this.jobView(this.job));
    }
    b.append(h('h3', {}, 'Runs'), this.runsView());
    b.append(h('h3', {}, 'Compile'), this.exportView());
  }

  private selectStep(name: string): void {
    const step = this.spec?.steps.find(s => s.name === name);
    this.selectCell(step?.cells[0]?.index);
  }

  private stepList(spec: ISpec): HTMLElement {
    const status = new Map((this.job?.steps ?? []).map(s => [s.name, s.status]));
    return h(
      'ul',
      { class: 'nbmlops-steps' },
      ...spec.steps.map(s => {
        const inputs = Object.entries(s.inputs).map(([v, from]) => `${v} ← ${from}`);
        return h(
          'li',
          { 'data-step': s.name, onclick: () => this.selectStep(s.name) },
          h('span', { class: 'nbmlops-dot', style: `background:${stepColor(s.name)}` }),
          h('b', {}, s.name),
          status.has(s.name)
            ? h('span', { class: `nbmlops-status nbmlops-${status.get(s.name)}` }, status.get(s.name)!)
            : null,
          h('div', { class: 'nbmlops-io' }, inputs.length ? `in: ${inputs.join(', ')}` : 'in: —'),
          h('div', { class: 'nbmlops-io' }, s.outputs.length ? `out: ${s.outputs.join(', ')}` : 'out: —')
        );
      })
    );
  }

  private runForm(spec: ISpec): HTMLElement {
    const state = this.form;
    const backend = h('select', { name: 'backend' }, ...this.backends.map(n => h('option', { value: n }, n)));
    backend.value = state.backend ?? this.backends[0];
    backend.addEventListener('change', () => (state.backend = backend.value));
    const fields = spec.parameters.map(p => {
      const input = h('input', { name: p.name, value: state.values[p.name] ?? formatValue(p), title: p.type });
      input.addEventListener('input', () => (state.values[p.name] = input.value));
      return h('label', {}, h('span', {}, `${p.name} `), input, h('small', {}, p.type));
    });
    const message = h('div', { class: 'nbmlops-form-error' }, this.notice);
    const running = this.job?.status === 'running' || this.job?.status === 'starting';
    const run = h('button', { class: 'jp-mod-styled jp-mod-accept nbmlops-run' }, running ? 'Running…' : 'Run');
    run.disabled = running;
    const form = h('form', { class: 'nbmlops-run-form' }, h('label', {}, 'Backend ', backend), ...fields, run, message);
    form.addEventListener('submit', e => {
      e.preventDefault();
      const params: Record<string, unknown> = {};
      try {
        for (const p of spec.parameters) {
          params[p.name] = parseValue(p, (form.querySelector(`[name="${p.name}"]`) as HTMLInputElement).value);
        }
      } catch (err) {
        message.textContent = (err as Error).message;
        return;
      }
      void this.start(backend.value, params);
    });
    return form;
  }

  private async start(backend: string, params: Record<string, unknown>): Promise<void> {
    if (!this.nb) {
      return;
    }
    this.notice = '';
    if (this.nb.context.model.dirty) {
      await this.nb.context.save(); // the run reads the file: run what the user sees
    }
    try {
      this.job = await post<IJob>('runs', { path: this.nb.context.path, backend, params });
    } catch (e) {
      this.notice = (e as Error).message;
      this.selectCell((e as ApiError).cell);
      return this.render();
    }
    this.render();
    this.poll();
  }

  private poll(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(async () => {
      const job = this.job;
      if (!job) {
        return;
      }
      let latest: IJob;
      try {
        latest = await request<IJob>(`jobs/${job.id}`);
      } catch (e) {
        this.notice = (e as Error).message;
        return this.render();
      }
      if (this.job !== job) {
        return; // another notebook or run took over meanwhile
      }
      this.job = latest;
      if (JSON.stringify(latest) !== JSON.stringify(job)) {
        this.render(); // only on news: re-rendering takes the focus from a field being typed in
      }
      if (this.job.status === 'running' || this.job.status === 'starting') {
        this.poll();
      } else {
        if (this.job.status === 'failed') {
          this.selectCell(this.job.error?.cell);
        }
        void this.loadRuns();
      }
    }, POLL_MS);
  }

  private jobView(job: IJob): HTMLElement {
    return h(
      'div',
      { class: `nbmlops-job nbmlops-job-${job.status}`, 'data-status': job.status },
      h(
        'div',
        {},
        h('b', {}, `Run ${job.run_id ?? ''} `),
        h('span', { class: `nbmlops-status nbmlops-${job.status}` }, job.status)
      ),
      h(
        'ul',
        { class: 'nbmlops-job-steps' },
        ...job.steps.map(s =>
          h(
            'li',
            { 'data-step': s.name, 'data-status': s.status },
            h('span', { class: `nbmlops-status nbmlops-${s.status}` }, s.status),
            ` ${s.name}`,
            s.seconds !== undefined ? h('small', {}, ` ${s.seconds.toFixed(1)} s`) : null,
            job.artifacts[s.name]?.notebook
              ? h(
                  'button',
                  { class: 'nbmlops-link', onclick: () => void this.openStepNotebook(job, s.name) },
                  'open notebook'
                )
              : null
          )
        )
      ),
      job.error
        ? h('pre', { class: 'nbmlops-error', onclick: () => this.selectCell(job.error?.cell) }, job.error.message)
        : null
    );
  }

  private async openStepNotebook(job: IJob, step: string): Promise<void> {
    const where = `jobs/${job.id}/steps/${step}/notebook`;
    const found = await request<{ path: string | null }>(where);
    if (found.path) {
      await this.app.commands.execute('docmanager:open', { path: found.path });
      return;
    }
    // hidden or outside the root (the run folder is in .nbmlops/): show it rendered instead
    const frame = new IFrame({ sandbox: [] });
    frame.url = apiUrl(where) + '?format=html';
    const widget = new MainAreaWidget({ content: frame });
    widget.title.label = `${step} (run ${job.run_id})`;
    this.app.shell.add(widget, 'main');
  }

  async loadRuns(): Promise<void> {
    if (!this.nb) {
      return;
    }
    try {
      this.runs = (await request<{ runs: IRunRow[] }>(`runs?path=${encodeURIComponent(this.nb.context.path)}`)).runs;
    } catch (e) {
      this.notice = (e as Error).message;
    }
    this.render();
  }

  private runsView(): HTMLElement {
    const box = h('div', { class: 'nbmlops-runs' });
    box.append(h('button', { class: 'jp-mod-styled', onclick: () => void this.loadRuns() }, 'Load runs'));
    if (!this.runs.length) {
      return box;
    }
    const metricKeys = [...new Set(this.runs.flatMap(r => Object.keys(r.metrics)))].slice(0, 4);
    // only the parameters that differ between the listed runs say anything about them
    const paramKeys = [...new Set(this.runs.flatMap(r => Object.keys(r.params)))].filter(
      k => new Set(this.runs.map(r => JSON.stringify(r.params[k]))).size > 1
    );
    const table = h(
      'table',
      {},
      h(
        'tr',
        {},
        h('th', {}, ''),
        h('th', {}, 'run'),
        h('th', {}, 'status'),
        h('th', {}, 's'),
        h('th', {}, 'params'),
        ...metricKeys.map(k => h('th', {}, k))
      )
    );
    for (const r of this.runs) {
      const check = h('input', { type: 'checkbox' });
      check.checked = this.compare.has(r.id);
      check.addEventListener('change', () => {
        if (check.checked) {
          this.compare.add(r.id);
        } else {
          this.compare.delete(r.id);
        }
        this.render();
      });
      table.append(
        h(
          'tr',
          { 'data-run': r.id },
          h('td', {}, check),
          h('td', { title: r.id }, shortId(r.id)),
          h('td', {}, h('span', { class: `nbmlops-status nbmlops-${r.status}` }, r.status)),
          h('td', {}, r.duration !== null ? r.duration.toFixed(1) : ''),
          h('td', {}, paramKeys.map(k => `${k}=${JSON.stringify(r.params[k])}`).join(' ')),
          ...metricKeys.map(k => h('td', {}, r.metrics[k] !== undefined ? r.metrics[k].toPrecision(4) : ''))
        )
      );
    }
    box.append(table);
    const picked = this.runs.filter(r => this.compare.has(r.id));
    if (picked.length >= 2) {
      box.append(this.compareView(picked.slice(0, 2)));
    } else {
      box.append(h('small', {}, 'Tick two runs to compare them.'));
    }
    return box;
  }

  private compareView([a, b]: IRunRow[]): HTMLElement {
    const rows: [string, unknown, unknown][] = [
      ['status', a.status, b.status],
      ['duration', a.duration?.toFixed(2), b.duration?.toFixed(2)],
      ['backend', a.backend, b.backend]
    ];
    for (const k of new Set([...Object.keys(a.params), ...Object.keys(b.params)])) {
      rows.push([`param ${k}`, a.params[k], b.params[k]]);
    }
    for (const k of new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])) {
      rows.push([`metric ${k}`, a.metrics[k], b.metrics[k]]);
    }
    const show = (v: unknown): string =>
      v === undefined || v === null ? '—' : typeof v === 'string' ? v : JSON.stringify(v);
    return h(
      'table',
      { class: 'nbmlops-compare' },
      h('tr', {}, h('th', {}, ''), h('th', {}, shortId(a.id)), h('th', {}, shortId(b.id))),
      ...rows.map(([k, x, y]) =>
        h(
          'tr',
          { class: show(x) !== show(y) ? 'nbmlops-differs' : '' },
          h('td', {}, k),
          h('td', {}, show(x)),
          h('td', {}, show(y))
        )
      )
    );
  }

  private exportView(): HTMLElement {
    const out = h('div', { class: 'nbmlops-export-result' });
    const go = async (target: string): Promise<void> => {
      if (!this.nb) {
        return;
      }
      if (this.nb.context.model.dirty) {
        await this.nb.context.save();
      }
      try {
        const r = await post<{ written: string[] }>('export', { path: this.nb.context.path, target });
        out.textContent = `wrote ${r.written.join(', ')}`;
      } catch (e) {
        out.textContent = (e as Error).message;
      }
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
