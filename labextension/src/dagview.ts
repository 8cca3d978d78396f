// The DAG as SVG: nodes in layers (dag.ts), edges with arrowheads drawn under the nodes, each node coloured by
// its step's status in the run on show (live while a run goes), zoom in/out and fit buttons, click → the
// step's first cell. The drawing fits the box width at zoom 1, so the labels stay readable at 250 px.
import { layout, nodeLabel, NODE_H, NODE_W } from './dag';
import { h } from './dom';
import { statusColor } from './runlogic';
import { stepColor } from './tags';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, String(v)));
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

export interface IDagOptions {
  name: string;
  steps: { name: string; upstream: string[] }[];
  status: Map<string, string>; // step -> status in the run on show
  zoom: number; // 1 = fit the width
  onClick: (step: string) => void;
  onZoom: (zoom: number) => void;
}

export function dagView(o: IDagOptions): HTMLElement {
  const l = layout(o.steps);
  const root = svg('svg', {
    viewBox: `0 0 ${l.width} ${l.height}`,
    class: 'nbmlops-dag',
    role: 'img',
    'data-zoom': o.zoom
  }) as SVGSVGElement;
  root.append(svg('title', {}, `DAG of ${o.name}`));
  const defs = svg('defs', {});
  const marker = svg('marker', {
    id: 'nbmlops-arrow',
    viewBox: '0 0 8 8',
    refX: 7,
    refY: 4,
    markerWidth: 7,
    markerHeight: 7,
    orient: 'auto-start-reverse'
  });
  marker.append(svg('path', { d: 'M0,0 L8,4 L0,8 z', class: 'nbmlops-arrowhead' }));
  defs.append(marker);
  root.append(defs);
  for (const e of l.edges) {
    const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    root.append(
      svg('path', {
        d,
        class: 'nbmlops-edge',
        'data-from': e.from,
        'data-to': e.to,
        'marker-end': 'url(#nbmlops-arrow)'
      })
    );
  }
  for (const n of l.nodes) {
    const status = o.status.get(n.name);
    const g = svg('g', {
      class: 'nbmlops-node',
      'data-step': n.name,
      'data-status': status ?? '',
      'data-layer': n.layer,
      transform: `translate(${n.x.toFixed(1)},${n.y.toFixed(1)})`,
      tabindex: 0
    });
    g.append(
      svg('rect', {
        width: NODE_W,
        height: NODE_H,
        rx: 5,
        fill: statusColor(status) ?? stepColor(n.name),
        class: status === 'running' ? 'nbmlops-node-running' : ''
      })
    );
    g.append(svg('text', { x: NODE_W / 2, y: NODE_H / 2 + 4, 'text-anchor': 'middle' }, nodeLabel(n.name)));
    g.append(svg('title', {}, status ? `${n.name}: ${status}` : n.name));
    g.addEventListener('click', () => o.onClick(n.name));
    g.addEventListener('keydown', e => (e as KeyboardEvent).key === 'Enter' && o.onClick(n.name));
    root.append(g);
  }
  // zoom 1 fills the box's width; the box scrolls when zoomed in
  root.style.width = `${Math.round(o.zoom * 100)}%`;
  root.style.maxWidth = o.zoom <= 1 ? `${Math.round(l.width * 1.6)}px` : 'none';
  const button = (label: string, title: string, zoom: number): HTMLButtonElement =>
    h('button', { class: 'nbmlops-zoom', title, 'data-zoom': label, onclick: () => o.onZoom(zoom) }, label);
  return h(
    'div',
    { class: 'nbmlops-dag-wrap' },
    h(
      'div',
      { class: 'nbmlops-dag-tools' },
      button('−', 'Zoom out', Math.max(0.5, o.zoom / 1.25)),
      button('+', 'Zoom in', Math.min(4, o.zoom * 1.25)),
      button('fit', 'Fit the whole graph to the panel', 1)
    ),
    h('div', { class: 'nbmlops-dag-box' }, root as unknown as Node)
  );
}
