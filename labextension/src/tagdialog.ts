// The "Pipeline step…" dialog: set the step, after, setup/skip/parameters and step options of the selected cells.
// It opens on the cell's current role as the compiled pipeline has it (a cell that continues a step says so, and
// the step's options show), and placeholders read as examples, never as values.
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Notebook } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { ICurrentRole } from './cellroles';
import { checkRole, IRole, Kind, readRole, writeRole } from './tags';

const KINDS: [Kind, string][] = [
  ['step', 'Start step'],
  ['continue', 'Continue the step above'],
  ['setup', 'Setup (re-run before every step)'],
  ['parameters', 'Parameters'],
  ['skip', 'Skip (not in the pipeline)']
];

class RoleForm extends Widget implements Dialog.IBodyWidget<IRole> {
  constructor(initial: IRole, steps: string[], current: ICurrentRole | null) {
    super();
    this.addClass('nbmlops-tag-form');
    const kind = h('select', { name: 'kind' }, ...KINDS.map(([k, label]) => h('option', { value: k }, label)));
    kind.value = initial.kind === 'none' ? (current?.role.kind === 'continue' ? 'continue' : 'step') : initial.kind;
    const list = h('datalist', { id: 'nbmlops-step-names' }, ...steps.map(s => h('option', { value: s })));
    const field = (name: string, value: string, placeholder: string): HTMLInputElement =>
      h('input', { name, value, placeholder, type: 'text' });
    const nocache = h('input', { name: 'nocache', type: 'checkbox' });
    nocache.checked = initial.options.nocache !== undefined;
    const o = initial.options;
    const inherited = Object.entries(current?.stepOptions ?? {}).map(([k, v]) => (v === true ? k : `${k}:${v}`));
    this.node.append(
      h('div', { class: 'nbmlops-current-role' }, `Now: ${current?.describe ?? 'not compiled yet'}`),
      ...(inherited.length && initial.kind !== 'step'
        ? [
            h(
              'div',
              { class: 'nbmlops-current-options' },
              `Step options (on the step's first cell): ${inherited.join(' ')}`
            )
          ]
        : []),
      h('label', {}, 'Cell is ', kind),
      h('label', {}, 'Step name ', field('step', initial.step ?? current?.role.step ?? '', 'e.g. train')),
      list,
      h('label', {}, 'After ', field('after', initial.after.join(','), 'steps, comma-separated')),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Step options'),
        h('label', {}, 'retries ', field('retries', o.retries ?? '', 'none, e.g. 2')),
        h('label', {}, 'cpus ', field('cpus', o.cpus ?? '', 'default, e.g. 2')),
        h('label', {}, 'gpus ', field('gpus', o.gpus ?? '', 'none, e.g. 1')),
        h('label', {}, 'memory ', field('memory', o.memory ?? '', 'default, e.g. 2Gi')),
        h('label', {}, nocache, ' no cache')
      ),
      h('div', { class: 'nbmlops-form-error' })
    );
    this.node.querySelector('input[name=step]')?.setAttribute('list', 'nbmlops-step-names');
  }

  getValue(): IRole {
    const v = (name: string): string => (this.node.querySelector(`[name=${name}]`) as HTMLInputElement).value.trim();
    const options: Record<string, string> = {};
    for (const key of ['retries', 'cpus', 'gpus', 'memory']) {
      if (v(key)) {
        options[key] = v(key);
      }
    }
    if ((this.node.querySelector('[name=nocache]') as HTMLInputElement).checked) {
      options.nocache = '';
    }
    return {
      kind: v('kind') as Kind,
      step: v('step'),
      after: v('after')
        .split(',')
        .map(s => s.trim())
        .filter(Boolean),
      options
    };
  }
}

/** Ask for a role and write it to the selected cells' tags; returns false when cancelled. */
export async function tagSelectedCells(
  notebook: Notebook,
  steps: string[],
  currentOf: (index: number) => ICurrentRole | null = () => null
): Promise<boolean> {
  const cells = notebook.widgets.filter(c => notebook.isSelectedOrActive(c) && c.model.type === 'code');
  if (!cells.length) {
    return false;
  }
  const first = cells[0].model;
  const current = currentOf(notebook.widgets.indexOf(cells[0]));
  let role = readRole((first.getMetadata('tags') as string[]) ?? [], '');
  if (role.kind === 'none' && current) {
    role = { ...role, kind: current.role.kind, step: current.role.step };
  }
  for (;;) {
    const result = await showDialog({
      title: cells.length > 1 ? `Pipeline step of ${cells.length} cells` : 'Pipeline step of this cell',
      body: new RoleForm(role, steps, current),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Apply' })]
    });
    if (!result.button.accept || !result.value) {
      return false;
    }
    role = result.value;
    const problem = checkRole(role);
    if (!problem) {
      break;
    }
    await showDialog({ title: 'Not a valid step', body: problem, buttons: [Dialog.okButton()] });
  }
  cells.forEach((cell, i) => {
    // one "step:" per step: the cells after the first continue it
    const r = i > 0 && role.kind === 'step' ? { ...role, kind: 'continue' as Kind, after: [], options: {} } : role;
    const tags = writeRole((cell.model.getMetadata('tags') as string[]) ?? [], r);
    if (tags.length) {
      cell.model.setMetadata('tags', tags);
    } else {
      cell.model.deleteMetadata('tags');
    }
  });
  return true;
}
