// Left-to-right layered layout of the step DAG: a step's column is its longest path from a source.

export interface IStepLike {
  name: string;
  upstream: string[];
}

export interface ILayout {
  nodes: { name: string; x: number; y: number }[];
  edges: { from: string; to: string }[];
  width: number;
  height: number;
}

export const NODE_W = 120;
export const NODE_H = 30;
const GAP_X = 50;
const GAP_Y = 16;

export function layout(steps: readonly IStepLike[]): ILayout {
  const names = new Set(steps.map(s => s.name));
  const byName = new Map(steps.map(s => [s.name, s]));
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const col = (name: string): number => {
    const known = column.get(name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(name)) {
      return 0; // a cycle is a compiler error; draw it anyway rather than recurse forever
    }
    visiting.add(name);
    const ups = (byName.get(name)?.upstream ?? []).filter(u => names.has(u));
    const c = ups.length ? Math.max(...ups.map(col)) + 1 : 0;
    visiting.delete(name);
    column.set(name, c);
    return c;
  };
  const rows: number[] = [];
  const nodes = steps.map(s => {
    const c = col(s.name);
    const r = (rows[c] = (rows[c] ?? -1) + 1);
    return { name: s.name, x: 8 + c * (NODE_W + GAP_X), y: 8 + r * (NODE_H + GAP_Y) };
  });
  const edges = steps.flatMap(s => s.upstream.filter(u => names.has(u)).map(u => ({ from: u, to: s.name })));
  const cols = Math.max(0, ...nodes.map(n => column.get(n.name) ?? 0)) + 1;
  const maxRows = Math.max(1, ...rows.map(r => r + 1));
  return {
    nodes,
    edges,
    width: 16 + cols * NODE_W + (cols - 1) * GAP_X,
    height: 16 + maxRows * NODE_H + (maxRows - 1) * GAP_Y
  };
}
