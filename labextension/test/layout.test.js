// The DAG layout (dagre, layered top to bottom) and what the panel makes of it at its default width.
const test = require('node:test');
const assert = require('node:assert/strict');
const { layout, fitScale, nodeLabel, NODE_W, NODE_H } = require('../lib-test/dag.js');

// the example notebook's pipeline (example_notebooks/churn.ipynb) with a step added beside it
const CHURN = [
  { name: 'load', upstream: [] },
  { name: 'clean', upstream: ['load'] },
  { name: 'explore', upstream: ['load'] },
  { name: 'features', upstream: ['clean'] },
  { name: 'split', upstream: ['features'] },
  { name: 'train', upstream: ['split', 'features'] },
  { name: 'evaluate', upstream: ['train', 'split'] },
  { name: 'save_metrics', upstream: ['evaluate'] }
];

const overlaps = (a, b) => a.x < b.x + NODE_W && b.x < a.x + NODE_W && a.y < b.y + NODE_H && b.y < a.y + NODE_H;

test('each step sits in a layer below every step it reads from', () => {
  const l = layout(CHURN);
  const at = Object.fromEntries(l.nodes.map(n => [n.name, n]));
  for (const s of CHURN) {
    for (const u of s.upstream) {
      assert.ok(at[u].layer < at[s.name].layer, `${u} above ${s.name}`);
      assert.ok(at[u].y + NODE_H <= at[s.name].y, `${u} ends before ${s.name} starts`);
    }
  }
  assert.equal(at.clean.layer, at.explore.layer); // siblings share a layer, side by side
  assert.equal(l.edges.length, 9);
});

test('no two nodes overlap and every node is inside the drawing', () => {
  const l = layout(CHURN);
  for (const a of l.nodes) {
    assert.ok(a.x >= 0 && a.y >= 0 && a.x + NODE_W <= l.width + 0.01 && a.y + NODE_H <= l.height + 0.01, a.name);
    for (const b of l.nodes) {
      assert.ok(a === b || !overlaps(a, b), `${a.name} overlaps ${b.name}`);
    }
  }
});

test('edges run between layers, never through a node they do not join', () => {
  const l = layout(CHURN);
  for (const e of l.edges) {
    assert.ok(e.points.length >= 2, `${e.from}->${e.to} has a route`);
    for (const p of e.points.slice(1, -1)) {
      for (const n of l.nodes) {
        if (n.name === e.from || n.name === e.to) {
          continue;
        }
        const inside = p.x > n.x + 1 && p.x < n.x + NODE_W - 1 && p.y > n.y + 1 && p.y < n.y + NODE_H - 1;
        assert.ok(!inside, `${e.from}->${e.to} passes through ${n.name}`);
      }
    }
  }
});

test('readable at the panel default width: a chain of 7 fits 250 px without shrinking the labels', () => {
  const l = layout(CHURN);
  const boxWidth = 250 - 2 * 8 - 2; // the panel's padding and the box border
  const scale = fitScale(l, boxWidth);
  // 11 px labels stay at or above 9 px on screen, and a node label is at most 14 characters
  assert.ok(11 * scale >= 9, `scale ${scale}`);
  assert.ok(l.width * scale <= boxWidth + 0.01);
  assert.equal(nodeLabel('save_metrics'), 'save_metrics');
  assert.equal(nodeLabel('a_very_long_step_name'), 'a_very_long_s…');
});

test('a cycle (a compiler error) and an unknown upstream still lay out', () => {
  const l = layout([
    { name: 'a', upstream: ['b'] },
    { name: 'b', upstream: ['a', 'ghost'] }
  ]);
  assert.equal(l.nodes.length, 2);
  assert.equal(l.edges.length, 2);
  assert.equal(layout([]).nodes.length, 0);
});
