// The Models and Features tabs: the project's registered models (versions, metrics, aliases; promote a version
// to an alias after a confirmation) and feature sets (versions, entities, rows, freshness, feature statistics).
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IFeatureSet, IModel, post, query, request } from './api';
import { h } from './dom';
import { RunDrive } from './rundrive';

/** What the tabs need from the panel. */
export interface IHost {
  app: JupyterFrontEnd;
  drive: RunDrive;
  notebookPath(): string | null;
  render(): void;
  showTab(tab: string): void;
  selectCell(index: number | null | undefined, line?: number | null): void;
  openStepNotebook(runId: string, step: string): Promise<void>;
  stopRun(runId: string): Promise<void>;
  insertWidgetsCell(): void;
}

const cache = new Map<string, { data: unknown; error: string }>(); // tab+notebook -> last answer

function fmt(v: unknown): string {
  if (v === null || v === undefined) {
    return '—';
  }
  return typeof v === 'number' ? Number(v.toPrecision(4)).toString() : String(v);
}

async function load(host: IHost, what: 'models' | 'featuresets'): Promise<void> {
  const path = host.notebookPath();
  if (!path) {
    return;
  }
  const key = `${what}:${path}`;
  try {
    cache.set(key, { data: await request(`${what}${query(path)}`), error: '' });
  } catch (e) {
    cache.set(key, { data: null, error: (e as Error).message });
  }
  host.render();
}

export function catalogView(host: IHost, tab: 'models' | 'features'): HTMLElement {
  const what = tab === 'models' ? 'models' : 'featuresets';
  const path = host.notebookPath() ?? '';
  const found = cache.get(`${what}:${path}`);
  const box = h(
    'div',
    { class: `nbmlops-${tab}` },
    h('button', { class: 'jp-mod-styled nbmlops-reload', onclick: () => void load(host, what) }, '↻ Reload')
  );
  if (!found) {
    void load(host, what);
    box.append(h('p', { class: 'nbmlops-hint' }, 'Loading…'));
    return box;
  }
  if (found.error) {
    box.append(h('div', { class: 'nbmlops-error' }, found.error));
    return box;
  }
  if (tab === 'models') {
    const models = (found.data as { models: IModel[] }).models;
    if (!models.length) {
      box.append(h('p', { class: 'nbmlops-hint' }, 'No models yet: nbmlops.register_model(model, "name") in a step.'));
    }
    box.append(...models.map(m => modelView(host, m)));
  } else {
    const sets = (found.data as { feature_sets: IFeatureSet[] }).feature_sets;
    if (!sets.length) {
      box.append(h('p', { class: 'nbmlops-hint' }, 'No feature sets yet: FeatureSet(...).ingest(df) defines one.'));
    }
    box.append(...sets.map(featureSetView));
  }
  return box;
}

function modelView(host: IHost, m: IModel): HTMLElement {
  const metricKeys = [...new Set(m.version_list.flatMap(v => Object.keys(v.metrics)))].sort().slice(0, 4);
  return h(
    'div',
    { class: 'nbmlops-model', 'data-model': m.name },
    h(
      'h3',
      {},
      m.name,
      ...Object.entries(m.aliases).map(([a, v]) =>
        h('span', { class: 'nbmlops-alias', 'data-alias': a }, `@${a} → v${v}`)
      )
    ),
    h(
      'div',
      { class: 'nbmlops-table-box' },
      h(
        'table',
        {},
        h('tr', {}, h('th', {}, 'v'), ...metricKeys.map(k => h('th', {}, k)), h('th', {}, 'aliases'), h('th', {}, '')),
        ...m.version_list.map(v =>
          h(
            'tr',
            { 'data-version': String(v.version) },
            h('td', { title: v.run_id ? `run ${v.run_id}` : '' }, String(v.version)),
            ...metricKeys.map(k => h('td', {}, fmt(v.metrics[k]))),
            h('td', {}, v.aliases.map(a => `@${a}`).join(' ')),
            h(
              'td',
              {},
              h(
                'button',
                { class: 'nbmlops-link nbmlops-promote', onclick: () => void promote(host, m, v.version) },
                'promote…'
              )
            )
          )
        )
      )
    )
  );
}

async function promote(host: IHost, m: IModel, version: number): Promise<void> {
  const path = host.notebookPath();
  if (!path) {
    return;
  }
  const input = h('input', { name: 'alias', value: 'production', list: 'nbmlops-aliases' });
  const body = h(
    'div',
    { class: 'nbmlops-promote-form' },
    h('label', {}, 'Alias ', input),
    h(
      'datalist',
      { id: 'nbmlops-aliases' },
      ...['production', 'staging', ...Object.keys(m.aliases)].map(a => h('option', { value: a }))
    ),
    h('p', {}, `${m.name} v${version} will be what ${m.name}@ALIAS loads (serving follows the move).`)
  );
  const ask = await showDialog({
    title: `Promote ${m.name} v${version}`,
    body: new Widget({ node: body }),
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Next' })]
  });
  const alias = input.value.trim();
  if (!ask.button.accept || !alias) {
    return;
  }
  const before = m.aliases[alias];
  const sure = await showDialog({
    title: 'Move the alias?',
    body:
      before !== undefined
        ? `${m.name}@${alias} moves from v${before} to v${version}.`
        : `${m.name}@${alias} is new: it will point at v${version}.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: `Promote to @${alias}` })]
  });
  if (!sure.button.accept) {
    return;
  }
  try {
    await post(`models/${encodeURIComponent(m.name)}/aliases`, { path, alias, version });
  } catch (e) {
    await showDialog({ title: 'Not promoted', body: (e as Error).message, buttons: [Dialog.okButton()] });
  }
  await load(host, 'models');
}

function featureSetView(s: IFeatureSet): HTMLElement {
  const age =
    s.freshness_s === null
      ? '—'
      : s.freshness_s < 3600
        ? `${Math.round(s.freshness_s / 60)} min`
        : `${Math.round(s.freshness_s / 3600)} h`;
  return h(
    'div',
    { class: 'nbmlops-featureset', 'data-set': s.name },
    h('h3', {}, `${s.name} `, h('small', {}, `v${s.version} of ${s.versions.length}`)),
    h(
      'div',
      { class: 'nbmlops-io' },
      `entities ${s.entities.join(', ')} · time ${s.timestamp} · ${s.rows} rows · newest event ${age} ago · ` +
        `${s.online_entities} online`
    ),
    h(
      'div',
      { class: 'nbmlops-table-box' },
      h(
        'table',
        {},
        h('tr', {}, h('th', {}, 'feature'), h('th', {}, 'type'), h('th', {}, 'stats')),
        ...s.features.map(f =>
          h(
            'tr',
            { 'data-feature': f.name },
            h('td', {}, f.name),
            h('td', {}, `${f.dtype ?? ''} ${f.kind === 'window' ? '(window)' : ''}`),
            h(
              'td',
              {},
              Object.entries(f.stats ?? {})
                .filter(([, v]) => typeof v === 'number')
                .slice(0, 4)
                .map(([k, v]) => `${k} ${fmt(v)}`)
                .join(' · ')
            )
          )
        )
      )
    )
  );
}
