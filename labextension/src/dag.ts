// Layered layout of the step DAG with dagre (bundled from npm): sources on top, each step below the steps it
// reads from, edges routed between the layers so none runs behind a node. Top-to-bottom suits the narrow side
// panel: a layer is a row, a long chain grows downwards and stays readable at the panel's default 250 px.
import * as dagre from '@dagrejs/dagre';

export interface IStepLike {
  name: string;
  upstream: string[];
}

export interface ILayoutNode {
  name: string;
  x: number; // top-left corner
  y: number;
  layer: number;
}

export interface ILayout {
  nodes: ILayoutNode[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

export const NODE_W = 104;
export const NODE_H = 26;
const MARGIN = 6;

/** The node label: names longer than fit the box are cut with an ellipsis (the full name is the tooltip). */
export function nodeLabel(name: string, max = 14): string {
  return name.length > max ? name.slice(0, max - 1) + '…' : name;
}

export function layout(steps: readonly IStepLike[]): ILayout {
  const names = new Set(steps.map(s => s.name));
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 12, ranksep: 26, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const s of steps) {
    g.setNode(s.name, { width: NODE_W, height: NODE_H });
  }
  const edges: { from: string; to: string }[] = [];
  for (const s of steps) {
    for (const u of new Set(s.upstream)) {
      if (names.has(u) && u !== s.name) {
        g.setEdge(u, s.name);
        edges.push({ from: u, to: s.name });
      }
    }
  }
  dagre.layout(g); // a cycle (a compiler error) is broken by dagre's acyclic pass: it still lays out
  const ys = [...new Set(steps.map(s => Math.round(g.node(s.name).y)))].sort((a, b) => a - b);
  const nodes = steps.map(s => {
    const n = g.node(s.name);
    return { name: s.name, x: n.x - NODE_W / 2, y: n.y - NODE_H / 2, layer: ys.indexOf(Math.round(n.y)) };
  });
  const graph = g.graph();
  return {
    nodes,
    edges: edges.map(e => ({ ...e, points: (g.edge(e.from, e.to).points ?? []).map(p => ({ x: p.x, y: p.y })) })),
    width: Math.max(graph.width ?? 0, NODE_W + 2 * MARGIN),
    height: Math.max(graph.height ?? 0, NODE_H + 2 * MARGIN)
  };
}

/** The view box that fits the whole graph into a box `w` wide (zoom 1 = fit); larger zoom shows less. */
export function fitScale(l: ILayout, boxWidth: number): number {
  return boxWidth > 0 ? Math.min(1.6, boxWidth / l.width) : 1;
}
