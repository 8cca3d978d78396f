// Pure helpers of the run form, the runs list and the run view: sweeps as the CLI takes them, filters, compare
// with deltas, status colours and JupyterLab's 1-based cell numbers. Unit-tested with node:test.
import { IParamSpec, parseValue } from './params';

const SCALAR = new Set(['int', 'float', 'bool', 'str', 'NoneType']);

/** The run form's fields split like `nbmlops run -p`: a scalar field with commas (`0.1, 1, 10`) is swept, the
 * others are typed values. Throws with the field's name when a value does not fit its type. */
export function splitSweep(
  params: readonly IParamSpec[],
  texts: Record<string, string>
): { values: Record<string, unknown>; sweep: Record<string, string> } {
  const values: Record<string, unknown> = {};
  const sweep: Record<string, string> = {};
  for (const p of params) {
    const text = texts[p.name];
    if (text === undefined) {
      continue;
    }
    if (SCALAR.has(p.type) && text.includes(',')) {
      const parts = text.split(',').map(s => s.trim());
      parts.forEach(part => parseValue(p, part)); // each value must fit the type
      sweep[p.name] = parts.join(', ');
    } else {
      values[p.name] = parseValue(p, text);
    }
  }
  return { values, sweep };
}

/** How many runs a grid sweep makes (random:N takes at most N of them). */
export function sweepSize(sweep: Record<string, string>, mode: string): number {
  const grid = Object.values(sweep).reduce((n, v) => n * new Set(v.split(',').map(s => s.trim())).size, 1);
  const m = /^random:(\d+)$/.exec(mode);
  return m ? Math.min(grid, Number(m[1])) : grid;
}

/** The filter box's text as `--where` items: `metrics.roc_auc > 0.7; params.C = 1` (or `... and ...`, as the
 * RunsBrowser widget takes them). */
export function parseFilters(text: string): string[] {
  return text
    .split(/;|\n|\s+and\s+/i)
    .map(s => s.trim())
    .filter(Boolean);
}

export interface ICompared {
  key: string;
  values: unknown[];
  deltas: (number | null)[]; // against the first run; null where either is not a number
  differs: boolean;
}

/** Compare any number of runs: params and metrics row by row, each value's delta against the first run. */
export function compareRuns(
  runs: readonly { params: Record<string, unknown>; metrics: Record<string, number | null>; duration: number | null }[]
): ICompared[] {
  const rows: ICompared[] = [];
  const add = (key: string, values: unknown[]): void => {
    const base = values[0];
    const deltas = values.map(v =>
      typeof v === 'number' && typeof base === 'number' && Number.isFinite(v) && Number.isFinite(base) ? v - base : null
    );
    const shown = values.map(v => JSON.stringify(v ?? null));
    rows.push({ key, values, deltas, differs: new Set(shown).size > 1 });
  };
  add(
    'duration',
    runs.map(r => r.duration)
  );
  for (const k of [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort()) {
    add(
      `params.${k}`,
      runs.map(r => r.params[k])
    );
  }
  for (const k of [...new Set(runs.flatMap(r => Object.keys(r.metrics)))].sort()) {
    add(
      `metrics.${k}`,
      runs.map(r => r.metrics[k])
    );
  }
  return rows;
}

export function formatDelta(d: number | null): string {
  if (d === null || d === 0) {
    return '';
  }
  const abs = Math.abs(d);
  const text = abs >= 1000 || abs < 0.001 ? d.toExponential(2) : Number(d.toPrecision(3)).toString();
  return d > 0 ? `+${text}` : text;
}

/** A step's or run's status as a colour: the DAG nodes, the dots of the steps list. */
export function statusColor(status: string | undefined): string | null {
  switch (status) {
    case 'succeeded':
      return '#15803d';
    case 'cached':
    case 'reused':
      return '#0e7490';
    case 'running':
    case 'retrying':
      return '#2563eb';
    case 'failed':
      return '#b91c1c';
    case 'interrupted':
      return '#b45309';
    case 'not run':
    case 'skipped':
    case 'pending':
      return '#6b7280';
    default:
      return null;
  }
}

/** A cell as JupyterLab's status bar numbers it ("Cell 15" for index 14), with its first line. */
export function cellLabel(index: number, source?: string): string {
  const first = (source ?? '').split('\n').find(l => l.trim() !== '');
  return first ? `cell ${index + 1} (${first.trim().slice(0, 40)})` : `cell ${index + 1}`;
}

/** The notebook index a message's "cell N" (1-based, as every nbmlops message says it) points at. */
export function cellIndexIn(text: string): number | null {
  const m = /\bcell (\d+)/i.exec(text);
  return m ? Number(m[1]) - 1 : null;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) {
    return '';
  }
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
