// The Schedules tab: the notebook's schedules (cron, time zone, next and last occurrence with its run, the last
// error), pause/resume, remove after a confirmation, and a form to add one. Server API: nbmlops/server/schedules.py.
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { ISchedule, post, query, request } from './api';
import { IHost } from './catalog';
import { h } from './dom';

const state = new Map<string, { schedules: ISchedule[] | null; error: string; formError: string }>();

function when(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === '') {
    return '—';
  }
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toLocaleString();
}

async function load(host: IHost): Promise<void> {
  const path = host.notebookPath();
  if (!path) {
    return;
  }
  const s = state.get(path) ?? { schedules: null, error: '', formError: '' };
  try {
    s.schedules = (await request<{ schedules: ISchedule[] }>(`schedules${query(path)}`)).schedules;
    s.error = '';
  } catch (e) {
    s.error = (e as Error).message;
  }
  state.set(path, s);
  host.render();
}

async function act(host: IHost, call: () => Promise<unknown>): Promise<void> {
  const path = host.notebookPath() ?? '';
  try {
    await call();
  } catch (e) {
    const s = state.get(path);
    if (s) {
      s.error = (e as Error).message;
    }
  }
  await load(host);
}

export function schedulesView(host: IHost): HTMLElement {
  const path = host.notebookPath() ?? '';
  const s = state.get(path);
  const box = h(
    'div',
    { class: 'nbmlops-schedules' },
    h('button', { class: 'jp-mod-styled nbmlops-reload', onclick: () => void load(host) }, '↻ Reload')
  );
  if (!s) {
    void load(host);
    box.append(h('p', { class: 'nbmlops-hint' }, 'Loading…'));
    return box;
  }
  if (s.error) {
    box.append(h('div', { class: 'nbmlops-error' }, s.error));
  }
  const list = s.schedules ?? [];
  if (s.schedules && !list.length) {
    box.append(h('p', { class: 'nbmlops-hint' }, 'No schedules for this notebook. `nbmlops scheduler` runs them.'));
  }
  for (const sc of list) {
    const name = encodeURIComponent(sc.name);
    box.append(
      h(
        'div',
        { class: 'nbmlops-schedule', 'data-schedule': sc.name, 'data-paused': String(sc.paused) },
        h(
          'div',
          {},
          h('b', {}, sc.name),
          ` ${sc.cron} (${sc.timezone})`,
          sc.paused ? h('span', { class: 'nbmlops-status nbmlops-paused' }, 'paused') : null
        ),
        h('div', { class: 'nbmlops-io nbmlops-next' }, `next: ${sc.paused ? '— (paused)' : when(sc.next_at)}`),
        h(
          'div',
          { class: 'nbmlops-io nbmlops-last' },
          'last: ',
          sc.last
            ? h(
                'span',
                {},
                `${when(sc.last.at)} `,
                h('span', { class: `nbmlops-status nbmlops-${sc.last.status}` }, sc.last.status),
                sc.last.run_id
                  ? h('button', { class: 'nbmlops-link', onclick: () => void openRun(host, sc.last!.run_id!) }, 'run')
                  : null
              )
            : '—'
        ),
        sc.last_error ? h('div', { class: 'nbmlops-error' }, sc.last_error) : null,
        h(
          'div',
          { class: 'nbmlops-buttons' },
          h(
            'button',
            {
              class: 'jp-mod-styled nbmlops-pause',
              onclick: () => void act(host, () => post(`schedules/${name}/${sc.paused ? 'resume' : 'pause'}`, {}))
            },
            sc.paused ? 'Resume' : 'Pause'
          ),
          h('button', { class: 'jp-mod-styled nbmlops-remove', onclick: () => void remove(host, sc.name) }, 'Remove')
        )
      )
    );
  }
  box.append(h('h3', {}, 'Add a schedule'), addForm(host, s.formError));
  return box;
}

async function openRun(host: IHost, runId: string): Promise<void> {
  host.showTab('runs');
  const panel = host as unknown as { runsView: { open(id: string): Promise<void> } };
  await panel.runsView.open(runId);
}

async function remove(host: IHost, name: string): Promise<void> {
  const sure = await showDialog({
    title: 'Remove the schedule?',
    body: `Schedule ${name} stops; its past runs stay in the store.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
  });
  if (sure.button.accept) {
    await act(host, () => request(`schedules/${encodeURIComponent(name)}`, { method: 'DELETE' }));
  }
}

function addForm(host: IHost, error: string): HTMLElement {
  const field = (name: string, placeholder: string, value = ''): HTMLInputElement =>
    h('input', { name, placeholder, value });
  const cron = field('cron', 'e.g. 0 3 * * *');
  const tz = field('timezone', 'e.g. Europe/Berlin', Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const name = field('name', 'optional: from the notebook');
  const backend = h(
    'select',
    { name: 'backend' },
    ...['local', 'papermill', 'ray'].map(b => h('option', { value: b }, b))
  );
  const catchup = h('select', { name: 'catchup' }, ...['once', 'skip', 'all'].map(c => h('option', { value: c }, c)));
  const retries = field('retries', '0');
  const message = h('div', { class: 'nbmlops-form-error' }, error);
  const form = h(
    'form',
    { class: 'nbmlops-schedule-form' },
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'cron'), cron),
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'time zone'), tz),
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'name'), name),
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'backend'), backend),
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'catch-up'), catchup),
    h('label', { class: 'nbmlops-param' }, h('span', {}, 'retries'), retries),
    h('button', { class: 'jp-mod-styled jp-mod-accept nbmlops-add-schedule', type: 'submit' }, 'Add schedule'),
    message
  );
  form.addEventListener('submit', e => {
    e.preventDefault();
    const path = host.notebookPath();
    if (!path) {
      return;
    }
    const body: Record<string, unknown> = {
      path,
      cron: cron.value.trim(),
      backend: backend.value,
      catchup: catchup.value
    };
    if (tz.value.trim()) {
      body.timezone = tz.value.trim();
    }
    if (name.value.trim()) {
      body.name = name.value.trim();
    }
    if (retries.value.trim()) {
      if (!/^\d+$/.test(retries.value.trim())) {
        message.textContent = 'retries must be a whole number';
        return;
      }
      body.retries = Number(retries.value.trim());
    }
    void (async () => {
      const s = state.get(path) ?? { schedules: null, error: '', formError: '' };
      try {
        await post('schedules', body);
        s.formError = '';
      } catch (err) {
        s.formError = (err as Error).message;
      }
      state.set(path, s);
      await load(host);
    })();
  });
  return form;
}
