// The step grammar of DESIGN.md as cell tags: read a cell's role, write one back. Pure functions, unit-tested.

export type Kind = 'step' | 'continue' | 'setup' | 'skip' | 'parameters' | 'none';

export interface IRole {
  kind: Kind;
  step?: string;
  after: string[];
  options: Record<string, string>; // retries, cpus, gpus, memory: their value; nocache: ''
}

export const OPTION_KEYS = ['retries', 'cpus', 'gpus', 'memory', 'nocache'];
const ROLE_TAGS: Record<string, Kind> = {
  parameters: 'parameters',
  'pipeline-parameters': 'parameters',
  'injected-parameters': 'parameters',
  setup: 'setup',
  imports: 'setup',
  functions: 'setup',
  skip: 'skip'
};
export const STEP_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const MAGIC = /^\s*%%(step|setup|skip)\b(.*)$/;

function isOurs(tag: string): boolean {
  const [key, ...rest] = tag.split(':');
  const k = key.trim().toLowerCase();
  if (rest.length === 0) {
    return k in ROLE_TAGS || k === 'nocache';
  }
  return ['step', 'block', 'after', 'prev', ...OPTION_KEYS].includes(k);
}

/** The role the tags (or a leading %%step/%%setup/%%skip magic) give one code cell; `none` if they say nothing. */
export function readRole(tags: readonly string[], source = ''): IRole {
  const role: IRole = { kind: 'none', after: [], options: {} };
  for (const tag of tags) {
    const i = tag.indexOf(':');
    const key = (i < 0 ? tag : tag.slice(0, i)).trim().toLowerCase();
    const value = i < 0 ? '' : tag.slice(i + 1).trim();
    if (key === 'step' || key === 'block') {
      role.kind = 'step';
      role.step = value;
    } else if (key === 'after' || key === 'prev') {
      role.after.push(
        ...value
          .split(',')
          .map(s => s.trim())
          .filter(Boolean)
      );
    } else if (OPTION_KEYS.includes(key)) {
      role.options[key] = value;
    } else if (i < 0 && key in ROLE_TAGS && role.kind === 'none') {
      role.kind = ROLE_TAGS[key];
    }
  }
  if (role.kind === 'none') {
    const first = source.split('\n').find(l => l.trim() !== '') ?? '';
    const m = MAGIC.exec(first);
    if (m && m[1] === 'step') {
      const words = m[2].trim().split(/\s+/).filter(Boolean);
      role.kind = 'step';
      role.step = words[0];
      const a = words.indexOf('--after');
      if (a >= 0 && words[a + 1]) {
        role.after.push(...words[a + 1].split(','));
      }
    } else if (m) {
      role.kind = m[1] as Kind;
    }
  }
  if (role.kind === 'none' && (role.after.length || Object.keys(role.options).length)) {
    role.kind = 'continue';
  }
  return role;
}

/** `tags` with the grammar's tags replaced by those of `role`; tags of other tools are kept, in order. */
export function writeRole(tags: readonly string[], role: IRole): string[] {
  const kept = tags.filter(t => !isOurs(t));
  const ours: string[] = [];
  if (role.kind === 'step' && role.step) {
    ours.push(`step:${role.step}`);
  } else if (role.kind === 'setup' || role.kind === 'skip' || role.kind === 'parameters') {
    ours.push(role.kind);
  }
  if (role.kind === 'step' || role.kind === 'continue') {
    const after = role.after.map(s => s.trim()).filter(Boolean);
    if (after.length) {
      ours.push(`after:${after.join(',')}`);
    }
    for (const key of OPTION_KEYS) {
      const value = role.options[key];
      if (key === 'nocache' ? value !== undefined : value) {
        ours.push(key === 'nocache' ? 'nocache' : `${key}:${value}`);
      }
    }
  }
  return [...kept, ...ours];
}

/** What a role would break in the grammar, or null: the dialog says so before writing anything. */
export function checkRole(role: IRole): string | null {
  if (role.kind === 'step' && !STEP_NAME.test(role.step ?? '')) {
    return 'a step name is letters, digits, "_" or "-", starting with a letter or "_"';
  }
  const bad = role.after.find(s => !STEP_NAME.test(s));
  if (bad) {
    return `"${bad}" in after is not a step name`;
  }
  for (const key of ['retries', 'gpus']) {
    const v = role.options[key];
    if (v && !/^\d+$/.test(v)) {
      return `${key} must be a whole number`;
    }
  }
  const cpus = role.options.cpus;
  if (cpus && !(Number(cpus) > 0)) {
    return 'cpus must be a positive number';
  }
  const memory = role.options.memory;
  if (memory && !/^\d+(\.\d+)?\s*([KMGT]i?B?|[kmgt]i?b?|B)?$/.test(memory)) {
    return 'memory is a size such as 512Mi, 2G or 4GiB';
  }
  return null;
}

export interface ICellInfo {
  type: string; // code, markdown, raw
  tags: readonly string[];
  source: string;
}

export interface IBadge {
  label: string;
  kind: Kind;
  step?: string;
}

/** The badge of every cell: untagged code cells continue the step above; code before the first step is setup. */
export function badges(cells: readonly ICellInfo[]): (IBadge | null)[] {
  let current: string | null = null;
  return cells.map(cell => {
    if (cell.type !== 'code') {
      return null;
    }
    const role = readRole(cell.tags, cell.source);
    if (role.kind === 'step' && role.step) {
      current = role.step;
      return { label: role.step, kind: 'step', step: role.step };
    }
    if (role.kind === 'setup' || role.kind === 'skip' || role.kind === 'parameters') {
      return { label: role.kind, kind: role.kind };
    }
    if (current === null) {
      return { label: 'setup', kind: 'setup' };
    }
    return { label: current, kind: 'continue', step: current };
  });
}

/** A stable colour per step name, so a step's cells, list entry and DAG node match. */
export function stepColor(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = (h * 31 + name.charCodeAt(i)) >>> 0;
  }
  return `hsl(${h % 360}, 65%, 42%)`;
}
