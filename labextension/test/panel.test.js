// Badges from the compiled pipeline (one source of truth with the panel), the tag dialog's current role, and the
// run form / runs list logic: sweeps as the CLI takes them, filters, compare with deltas, 1-based cell numbers.
const test = require('node:test');
const assert = require('node:assert/strict');
const { badgesFromSpec, currentRole, isEmptyNotebook } = require('../lib-test/cellroles.js');
const {
  splitSweep,
  sweepSize,
  parseFilters,
  compareRuns,
  formatDelta,
  cellLabel,
  cellIndexIn,
  statusColor
} = require('../lib-test/runlogic.js');

const code = (source, tags = []) => ({ type: 'code', tags, source });
const md = source => ({ type: 'markdown', tags: [], source });

test('badges say what the compiler made of each cell, magic cells included', () => {
  const cells = [
    code('import pandas as pd', ['setup']),
    code('n = 10', ['parameters']),
    md('# Load'),
    code('raw = list(range(n))', ['step:load']),
    code('%load_ext nbmlops'), // after a step: the compiler leaves it out, the tags alone would say "load"
    code('rows = len(raw)'),
    code('%pipeline show'),
    code('plot(raw)', ['skip']),
    code('')
  ];
  const spec = {
    setup: [
      { index: 0, kind: 'setup' },
      { index: 1, kind: 'parameters' }
    ],
    steps: [
      {
        name: 'load',
        cells: [
          { index: 3, kind: 'step' },
          { index: 5, kind: 'step' }
        ],
        options: { retries: 2 }
      }
    ]
  };
  const got = badgesFromSpec(cells, spec);
  assert.deepEqual(
    got.map(b => b && b.kind),
    ['setup', 'parameters', null, 'step', 'none', 'continue', 'none', 'skip', null]
  );
  assert.equal(got[3].label, 'load · retries:2');
  assert.equal(got[5].step, 'load');
  assert.equal(got[4].label, 'not in pipeline');
});

test('a single untagged cell is badged as the one step the panel shows', () => {
  const got = badgesFromSpec([code('x = 1')], {
    setup: [],
    steps: [{ name: 'notebook', cells: [{ index: 0, kind: 'step' }], options: {} }]
  });
  assert.equal(got[0].kind, 'step');
  assert.equal(got[0].label, 'notebook');
});

test('an empty notebook has no badges (the panel shows a neutral hint)', () => {
  const cells = [code(''), md('notes'), code('  \n')];
  assert.ok(isEmptyNotebook(cells));
  assert.deepEqual(badgesFromSpec(cells, null), [null, null, null]);
  assert.ok(!isEmptyNotebook([code('x = 1')]));
});

test('without a compiled pipeline (a compile error) the badges read the tags', () => {
  const got = badgesFromSpec([code('a = 1', ['step:a']), code('b = a')], null);
  assert.equal(got[0].kind, 'step');
  assert.equal(got[1].kind, 'continue');
  assert.match(got[0].title, /does not compile/);
});

test('the tag dialog opens on the current role: a continuing cell says which step, with its options', () => {
  const spec = {
    setup: [{ index: 0, kind: 'setup' }],
    steps: [
      {
        name: 'train',
        cells: [
          { index: 1, kind: 'step' },
          { index: 2, kind: 'step' }
        ],
        options: { retries: 2 }
      }
    ]
  };
  assert.equal(currentRole(spec, 2).role.kind, 'continue');
  assert.equal(currentRole(spec, 2).describe, 'continues step train (retries:2)');
  assert.deepEqual(currentRole(spec, 2).stepOptions, { retries: 2 });
  assert.equal(currentRole(spec, 1).role.kind, 'step');
  assert.equal(currentRole(spec, 0).role.kind, 'setup');
  assert.equal(currentRole(spec, 7).describe, 'not in the pipeline');
  assert.equal(currentRole(null, 1), null);
});

test('run form: commas in a scalar field make a sweep, as `nbmlops run -p C=0.1,1,10` does', () => {
  const params = [
    { name: 'C', type: 'float', default: 1.0 },
    { name: 'seed', type: 'int', default: 7 },
    { name: 'cols', type: 'list', default: [1, 2] }
  ];
  const got = splitSweep(params, { C: '0.1, 1,10', seed: '7', cols: '[1, 2]' });
  assert.deepEqual(got.values, { seed: 7, cols: [1, 2] });
  assert.deepEqual(got.sweep, { C: '0.1, 1, 10' });
  assert.throws(() => splitSweep(params, { C: '0.1, x' }), /C must be a number/);
  assert.equal(sweepSize({ C: '0.1, 1, 10', seed: '1,2' }, 'grid'), 6);
  assert.equal(sweepSize({ C: '0.1, 1, 10', seed: '1,2' }, 'random:4'), 4);
  assert.equal(sweepSize({ C: '1, 1' }, 'grid'), 1);
});

test('filters split as the CLI takes several --where', () => {
  assert.deepEqual(parseFilters('metrics.auc > 0.8; params.C = 1'), ['metrics.auc > 0.8', 'params.C = 1']);
  assert.deepEqual(parseFilters('status = failed and tags.team = ml'), ['status = failed', 'tags.team = ml']);
  assert.deepEqual(parseFilters('  '), []);
});

test('compare three runs: rows for params and metrics, deltas against the first', () => {
  const rows = compareRuns([
    { params: { C: 1, seed: 7 }, metrics: { auc: 0.8 }, duration: 2 },
    { params: { C: 0.5, seed: 7 }, metrics: { auc: 0.85 }, duration: 3 },
    { params: { C: 0.1, seed: 7 }, metrics: {}, duration: null }
  ]);
  const by = Object.fromEntries(rows.map(r => [r.key, r]));
  assert.deepEqual(Object.keys(by), ['duration', 'params.C', 'params.seed', 'metrics.auc']);
  assert.ok(by['params.C'].differs && !by['params.seed'].differs);
  assert.equal(by['metrics.auc'].deltas[1].toFixed(2), '0.05');
  assert.equal(by['metrics.auc'].deltas[2], null);
  assert.equal(formatDelta(0.05000001), '+0.05');
  assert.equal(formatDelta(-0.5), '-0.5');
  assert.equal(formatDelta(0), '');
});

test('cell numbers are 1-based, as JupyterLab shows them', () => {
  assert.equal(cellLabel(14, '\nmodel.fit(X, y)\n'), 'cell 15 (model.fit(X, y))');
  assert.equal(cellLabel(0), 'cell 1');
  assert.equal(cellIndexIn('churn.ipynb, cell 15: unknown name'), 14);
  assert.equal(cellIndexIn('no cell here'), null);
  assert.equal(statusColor('failed'), '#b91c1c');
  assert.equal(statusColor(undefined), null);
});
