// The Runs tab: the notebook's runs from the store (filter with the CLI's grammar, sort by any column, pages),
// compare any number of runs with deltas, and one run's details (steps, why they ran, logs, the error mapped to
// its cell and line, outputs with hashes, metrics, step notebooks). Nothing here lives only in the page.
import { IRunDetail, IRunRow, IRunStep, query, request } from './api';
import { IHost } from './catalog';
import { h } from './dom';
import { compareRuns, duration, formatDelta, parseFilters } from './runlogic';

const PAGE = 10;

function shortId(id: string): string {
  return id.replace(/^\d{8}-/, '');
}

function show(v: unknown): string {
  if (v === undefined || v === null) {
    return '—';
  }
  if (typeof v === 'number') {
    return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export class RunsView {
  readonly node = h('div', { class: 'nbmlops-runs' });
  private runs: IRunRow[] = [];
  private more = false;
  private offset = 0;
  private filter = '';
  private order = '';
  private error = '';
  private compare = new Set<string>();
  private picked = new Map<string, IRunRow>(); // ticked runs, kept across pages
  private detail: IRunDetail | null = null;
  private timer = 0;
  // steps the user opened or closed ("run/step"): the panel re-renders on any news, and must not fold them back
  private toggled = new Map<string, boolean>();

  constructor(private host: IHost) {}

  reset(): void {
    this.runs = [];
    this.offset = 0;
    this.compare.clear();
    this.picked.clear();
    this.detail = null;
    this.error = '';
    this.toggled.clear();
    window.clearTimeout(this.timer);
  }

  async load(): Promise<void> {
    const path = this.host.notebookPath();
    if (!path) {
      return;
    }
    const args: Record<string, string | number | string[]> = { limit: PAGE, offset: this.offset };
    const where = parseFilters(this.filter);
    if (where.length) {
      args.where = where;
    }
    if (this.order) {
      args.order = this.order;
    }
    try {
      const page = await request<{ runs: IRunRow[]; more: boolean }>(`runlist${query(path, args)}`);
      this.runs = page.runs;
      this.more = page.more;
      this.error = '';
    } catch (e) {
      this.error = (e as Error).message;
    }
    this.host.render();
  }

  /** Open one run's details (from the runs list, the Pipeline tab's "details", a sweep's child). */
  async open(runId: string): Promise<void> {
    const path = this.host.notebookPath();
    if (!path) {
      return;
    }
    window.clearTimeout(this.timer);
    this.host.drive.remember(runId, path);
    try {
      this.detail = await request<IRunDetail>(`runs/${runId}${query(path)}`);
      this.error = '';
    } catch (e) {
      this.error = (e as Error).message;
    }
    this.host.showTab('runs');
    if (this.detail?.run.status === 'running') {
      this.timer = window.setTimeout(() => this.detail && void this.open(this.detail.run.id), 1000);
    }
  }

  render(): void {
    const n = this.node;
    n.replaceChildren();
    if (this.error) {
      n.append(h('div', { class: 'nbmlops-error' }, this.error));
    }
    if (this.detail) {
      n.append(this.detailView(this.detail));
      return;
    }
    const filter = h('input', {
      name: 'filter',
      value: this.filter,
      placeholder: 'filter, e.g. metrics.roc_auc > 0.7; params.C = 1'
    });
    const apply = (): void => {
      this.filter = filter.value;
      this.offset = 0;
      void this.load();
    };
    filter.addEventListener('keydown', e => (e as KeyboardEvent).key === 'Enter' && apply());
    n.append(
      h(
        'div',
        { class: 'nbmlops-filter' },
        filter,
        h('button', { class: 'jp-mod-styled', onclick: apply }, 'Filter'),
        h('button', { class: 'jp-mod-styled', title: 'Reload from the store', onclick: () => void this.load() }, '↻')
      )
    );
    n.append(this.table());
    n.append(
      h(
        'div',
        { class: 'nbmlops-pager' },
        this.pagerButton('‹ newer', this.offset > 0, () => (this.offset = Math.max(0, this.offset - PAGE))),
        h('span', {}, this.runs.length ? `runs ${this.offset + 1}–${this.offset + this.runs.length}` : 'no runs'),
        this.pagerButton('older ›', this.more, () => (this.offset += PAGE))
      )
    );
    const picked = [...this.picked.values()];
    if (picked.length >= 2) {
      n.append(this.compareView(picked));
    } else {
      n.append(h('small', {}, 'Tick two or more runs to compare them; click a run for its details.'));
    }
    n.append(
      h(
        'button',
        { class: 'nbmlops-link nbmlops-widgets', onclick: () => this.host.insertWidgetsCell() },
        'Charts: insert a RunsBrowser widget cell'
      )
    );
  }

  private pagerButton(label: string, enabled: boolean, move: () => void): HTMLButtonElement {
    const b = h(
      'button',
      {
        class: 'jp-mod-styled nbmlops-page',
        onclick: () => {
          move();
          void this.load();
        }
      },
      label
    );
    b.disabled = !enabled;
    return b;
  }

  private sortHeader(label: string, key: string): HTMLElement {
    const active = this.order.replace(/^-/, '') === key;
    const arrow = active ? (this.order.startsWith('-') ? ' ▼' : ' ▲') : '';
    return h(
      'th',
      {
        class: 'nbmlops-sortable',
        'data-sort': key,
        title: `sort by ${key}`,
        onclick: () => {
          this.order = active && !this.order.startsWith('-') ? `-${key}` : key;
          this.offset = 0;
          void this.load();
        }
      },
      label + arrow
    );
  }

  private table(): HTMLElement {
    const metricKeys = [...new Set(this.runs.flatMap(r => Object.keys(r.metrics)))].sort();
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
        this.sortHeader('run', 'started_at'),
        this.sortHeader('status', 'status'),
        this.sortHeader('s', 'duration'),
        ...paramKeys.map(k => this.sortHeader(k, `params.${k}`)),
        ...metricKeys.map(k => this.sortHeader(k, `metrics.${k}`))
      )
    );
    for (const r of this.runs) {
      const check = h('input', { type: 'checkbox', title: 'compare' });
      check.checked = this.picked.has(r.id);
      check.addEventListener('click', e => e.stopPropagation());
      check.addEventListener('change', () => {
        if (check.checked) {
          this.picked.set(r.id, r);
        } else {
          this.picked.delete(r.id);
        }
        this.host.render();
      });
      table.append(
        h(
          'tr',
          { 'data-run': r.id, class: 'nbmlops-run-row', onclick: () => void this.open(r.id) },
          h('td', {}, check),
          h('td', { title: r.id }, shortId(r.id) + (r.parent_run_id ? ' ↳' : '')),
          h('td', {}, h('span', { class: `nbmlops-status nbmlops-${r.status}` }, r.status)),
          h('td', {}, r.duration !== null ? r.duration.toFixed(1) : ''),
          ...paramKeys.map(k => h('td', {}, show(r.params[k]))),
          ...metricKeys.map(k => h('td', {}, show(r.metrics[k])))
        )
      );
    }
    return h('div', { class: 'nbmlops-table-box' }, table);
  }

  private compareView(runs: IRunRow[]): HTMLElement {
    const rows = compareRuns(runs);
    return h(
      'div',
      { class: 'nbmlops-table-box' },
      h(
        'table',
        { class: 'nbmlops-compare' },
        h('tr', {}, h('th', {}, ''), ...runs.map(r => h('th', { title: r.id }, shortId(r.id)))),
        ...rows.map(row =>
          h(
            'tr',
            { class: row.differs ? 'nbmlops-differs' : '', 'data-key': row.key },
            h('td', {}, row.key),
            ...row.values.map((v, i) =>
              h(
                'td',
                {},
                show(v),
                i > 0 && formatDelta(row.deltas[i])
                  ? h('small', { class: 'nbmlops-delta' }, ` ${formatDelta(row.deltas[i])}`)
                  : null
              )
            )
          )
        )
      )
    );
  }

  private detailView(d: IRunDetail): HTMLElement {
    const r = d.run;
    const params = Object.entries(r.params).map(([k, v]) => `${k}=${show(v)}`);
    const box = h(
      'div',
      { class: 'nbmlops-run-detail', 'data-run': r.id, 'data-status': r.status },
      h(
        'div',
        { class: 'nbmlops-header' },
        h('button', { class: 'jp-mod-styled nbmlops-back', onclick: () => this.back() }, '‹ all runs'),
        r.status === 'running'
          ? h(
              'button',
              { class: 'jp-mod-styled jp-mod-warn nbmlops-stop', onclick: () => void this.host.stopRun(r.id) },
              'Stop'
            )
          : null
      ),
      h(
        'h3',
        { title: r.id },
        `Run ${shortId(r.id)} `,
        h('span', { class: `nbmlops-status nbmlops-${r.status}` }, r.status)
      ),
      h(
        'div',
        { class: 'nbmlops-io' },
        `${r.backend ?? ''} · ${duration(r.duration)} · ${new Date(r.started_at * 1000).toLocaleString()}`
      ),
      h('div', { class: 'nbmlops-io' }, params.join('  ')),
      r.error ? h('pre', { class: 'nbmlops-error' }, r.error) : null
    );
    box.append(h('h3', {}, 'Steps'), ...d.steps.map(s => this.stepView(r.id, s)));
    const metrics = Object.entries(r.metrics);
    if (metrics.length) {
      box.append(
        h('h3', {}, 'Metrics'),
        h(
          'table',
          { class: 'nbmlops-metrics' },
          ...metrics.map(([k, v]) =>
            h(
              'tr',
              { 'data-metric': k },
              h('td', {}, k),
              h('td', {}, show(v)),
              h('td', {}, (d.metric_history[k]?.length ?? 0) > 1 ? `${d.metric_history[k].length} points` : '')
            )
          )
        )
      );
    }
    if (d.children.length) {
      box.append(
        h('h3', {}, `Sweep runs (${d.children.length})`),
        h(
          'ul',
          { class: 'nbmlops-children' },
          ...d.children.map(c =>
            h(
              'li',
              {},
              h('button', { class: 'nbmlops-link', onclick: () => void this.open(c) }, shortId(c)),
              r.tags.best_child === c ? ' (best)' : ''
            )
          )
        )
      );
    }
    if (d.artifacts.length) {
      box.append(
        h('h3', {}, 'Artifacts'),
        h(
          'ul',
          { class: 'nbmlops-artifacts' },
          ...d.artifacts.map(a => h('li', { title: a.sha256 }, `${a.name} · ${a.sha256.slice(0, 12)} · ${a.size} B`))
        )
      );
    }
    return box;
  }

  private back(): void {
    window.clearTimeout(this.timer);
    this.detail = null;
    void this.load();
  }

  private stepView(runId: string, s: IRunStep): HTMLElement {
    const cell = s.error?.cell ?? s.cells[0];
    const body = h(
      'div',
      { class: 'nbmlops-step-body' },
      h(
        'div',
        { class: 'nbmlops-io' },
        s.cached ? 'cached' : 'ran',
        s.why ? ` · ${s.why}` : '',
        s.attempts && s.attempts > 1 ? ` · ${s.attempts} attempts` : '',
        s.cells.length
          ? h(
              'button',
              { class: 'nbmlops-link', onclick: () => this.host.selectCell(s.cells[0]) },
              `cell ${s.cells.map(c => c + 1).join(', ')}`
            )
          : null
      )
    );
    if (s.error) {
      const where =
        s.error.cell !== null ? `cell ${s.error.cell + 1}${s.error.line ? `, line ${s.error.line}` : ''}` : '';
      body.append(
        h(
          'pre',
          {
            class: 'nbmlops-error nbmlops-traceback',
            title: where ? `select ${where}` : '',
            onclick: () => this.host.selectCell(s.error!.cell, s.error!.line)
          },
          where ? `${where}: ` : '',
          s.error.traceback || s.error.message || ''
        )
      );
    }
    if (s.outputs.length) {
      body.append(
        h(
          'ul',
          { class: 'nbmlops-outputs' },
          ...s.outputs.map(o =>
            h(
              'li',
              { title: o.sha256 },
              h('b', {}, o.name),
              ` ${o.type ?? ''} `,
              h('code', {}, (o.sha256 ?? '').slice(0, 12))
            )
          )
        )
      );
    }
    for (const [label, text] of [
      ['stdout', s.stdout],
      ['stderr', s.stderr]
    ]) {
      if (text.trim()) {
        body.append(
          h('div', { class: 'nbmlops-log-label' }, label),
          h('pre', { class: `nbmlops-log nbmlops-${label}` }, text)
        );
      }
    }
    if (s.notebook) {
      body.append(
        h(
          'button',
          {
            class: 'nbmlops-link nbmlops-open-notebook',
            onclick: () => void this.host.openStepNotebook(runId, s.name)
          },
          'open step notebook'
        )
      );
    }
    const details = h(
      'details',
      { class: 'nbmlops-step', 'data-step': s.name, 'data-status': s.status, 'data-cell': String(cell ?? '') },
      h(
        'summary',
        {},
        h('span', { class: `nbmlops-status nbmlops-${s.status.replace(' ', '-')}` }, s.status),
        ` ${s.name} `,
        h('small', {}, duration(s.duration))
      ),
      body
    );
    const key = `${runId}/${s.name}`;
    details.open = this.toggled.get(key) ?? s.status === 'failed';
    details.addEventListener('toggle', () => this.toggled.set(key, details.open));
    return details;
  }
}
