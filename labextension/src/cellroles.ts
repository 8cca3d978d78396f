// Cell badges from the compiled pipeline the panel shows (one source of truth): a cell's badge says what the
// compiler made of it. Before a first compile, or while the notebook doesn't compile, the badges read the tags
// (what the user wrote); an empty notebook gets no badges, only the panel's neutral hint. Pure, unit-tested.
import { badges, IBadge, ICellInfo, IRole, readRole } from './tags';

export interface ISpecCell {
  index: number;
  kind: string; // step, setup, parameters
}

export interface ISpecLike {
  steps: { name: string; cells: ISpecCell[]; options: Record<string, unknown> }[];
  setup?: ISpecCell[];
}

export interface ICellBadge extends IBadge {
  title: string;
}

/** Whether the notebook has no code to run yet: no code cell with anything but blank lines. */
export function isEmptyNotebook(cells: readonly ICellInfo[]): boolean {
  return !cells.some(c => c.type === 'code' && c.source.trim() !== '');
}

function optionText(options: Record<string, unknown>): string {
  return Object.entries(options)
    .map(([k, v]) => (v === true || v === '' ? k : `${k}:${v}`))
    .join(' ');
}

export function badgesFromSpec(cells: readonly ICellInfo[], spec: ISpecLike | null): (ICellBadge | null)[] {
  if (isEmptyNotebook(cells)) {
    return cells.map(() => null);
  }
  if (!spec) {
    return badges(cells).map(b =>
      b ? { ...b, title: `${b.label} (from the tags; the notebook does not compile)` } : b
    );
  }
  const byCell = new Map<number, ICellBadge>();
  for (const c of spec.setup ?? []) {
    const kind = c.kind === 'parameters' ? 'parameters' : 'setup';
    byCell.set(c.index, {
      label: kind,
      kind,
      title: kind === 'parameters' ? 'parameters: pipeline parameters' : 'setup: re-run before every step'
    });
  }
  for (const step of spec.steps) {
    const opts = optionText(step.options ?? {});
    step.cells.forEach((c, i) => {
      const title = `${i === 0 ? 'step' : 'continues step'} ${step.name}${opts ? ` (${opts})` : ''}`;
      byCell.set(c.index, {
        label: step.name + (i === 0 && opts ? ` · ${opts}` : ''),
        kind: i === 0 ? 'step' : 'continue',
        step: step.name,
        title
      });
    });
  }
  return cells.map((cell, i) => {
    if (cell.type !== 'code') {
      return null;
    }
    const found = byCell.get(i);
    if (found) {
      return found;
    }
    if (cell.source.trim() === '') {
      return null;
    }
    const skipped = readRole(cell.tags, cell.source).kind === 'skip';
    return skipped
      ? { label: 'skip', kind: 'skip', title: 'skip: left out of the pipeline' }
      : { label: 'not in pipeline', kind: 'none', title: 'the compiler leaves this cell out (magics, shell commands)' };
  });
}

/** What the compiled pipeline says of a cell: its role, and (for a cell continuing a step) that step's name and
 * options, which live on the step's first cell. */
export interface ICurrentRole {
  role: IRole;
  describe: string; // "continues step train (retries:2)"
  stepOptions: Record<string, unknown>;
}

export function currentRole(spec: ISpecLike | null, index: number): ICurrentRole | null {
  if (!spec) {
    return null;
  }
  const setup = (spec.setup ?? []).find(c => c.index === index);
  if (setup) {
    const kind = setup.kind === 'parameters' ? 'parameters' : 'setup';
    return { role: { kind, after: [], options: {} }, describe: kind, stepOptions: {} };
  }
  for (const step of spec.steps) {
    const at = step.cells.findIndex(c => c.index === index);
    if (at >= 0) {
      const opts = optionText(step.options ?? {});
      return {
        role: { kind: at === 0 ? 'step' : 'continue', step: step.name, after: [], options: {} },
        describe: `${at === 0 ? 'starts step' : 'continues step'} ${step.name}${opts ? ` (${opts})` : ''}`,
        stepOptions: step.options ?? {}
      };
    }
  }
  return { role: { kind: 'skip', after: [], options: {} }, describe: 'not in the pipeline', stepOptions: {} };
}
