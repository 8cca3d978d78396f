// Unit tests of the front-end logic worth testing: the tag grammar, the DAG layout, typed parameters.
// `jlpm test` compiles src/{tags,dag,params,cellroles,runlogic}.ts to lib-test/ (CommonJS) and runs these with node's test runner.
const test = require('node:test');
const assert = require('node:assert/strict');
const { readRole, writeRole, badges, checkRole } = require('../lib-test/tags.js');
const { parseValue, formatValue } = require('../lib-test/params.js');

test('reads roles from tags, Kale tags and magics', () => {
  assert.deepEqual(readRole(['step:train', 'after:a, b', 'retries:2', 'nocache']), {
    kind: 'step',
    step: 'train',
    after: ['a', 'b'],
    options: { retries: '2', nocache: '' }
  });
  assert.equal(readRole(['block:load']).step, 'load');
  assert.equal(readRole(['imports']).kind, 'setup');
  assert.equal(readRole(['pipeline-parameters']).kind, 'parameters');
  assert.equal(readRole(['hide-input']).kind, 'none');
  assert.equal(readRole(['cpus:2']).kind, 'continue');
  assert.deepEqual(readRole([], '\n%%step fit --after load\nx = 1').after, ['load']);
  assert.equal(readRole([], '%%skip\nplot()').kind, 'skip');
});

test('writing a role replaces the grammar tags and keeps the others', () => {
  const tags = ['hide-input', 'step:old', 'after:x', 'skip', 'cpus:4'];
  assert.deepEqual(writeRole(tags, { kind: 'step', step: 'new', after: ['a'], options: { gpus: '1', nocache: '' } }), [
    'hide-input',
    'step:new',
    'after:a',
    'gpus:1',
    'nocache'
  ]);
  assert.deepEqual(writeRole(tags, { kind: 'setup', after: ['a'], options: { gpus: '1' } }), ['hide-input', 'setup']);
  assert.deepEqual(writeRole(tags, { kind: 'continue', after: [], options: {} }), ['hide-input']);
  // round trip: what is written reads back the same
  const role = { kind: 'step', step: 's', after: ['a', 'b'], options: { retries: '3', memory: '2Gi' } };
  assert.deepEqual(readRole(writeRole([], role)), role);
});

test('invalid roles are caught before writing', () => {
  assert.match(checkRole({ kind: 'step', step: 'bad name', after: [], options: {} }), /step name/);
  assert.match(checkRole({ kind: 'step', step: 'ok', after: ['x y'], options: {} }), /after/);
  assert.match(checkRole({ kind: 'step', step: 'ok', after: [], options: { retries: 'two' } }), /whole/);
  assert.match(checkRole({ kind: 'step', step: 'ok', after: [], options: { memory: 'lots' } }), /size/);
  assert.equal(checkRole({ kind: 'step', step: 'ok', after: [], options: { cpus: '0.5', memory: '512Mi' } }), null);
});

test('badges: untagged cells continue the step above, code before the first step is setup', () => {
  const cell = (tags, type = 'code') => ({ type, tags, source: '' });
  const got = badges([
    cell([]),
    cell(['parameters']),
    cell([], 'markdown'),
    cell(['step:a']),
    cell([]),
    cell(['skip'])
  ]);
  assert.deepEqual(
    got.map(b => b && b.kind),
    ['setup', 'parameters', null, 'step', 'continue', 'skip']
  );
  assert.equal(got[4].step, 'a');
});

test('parameter values are parsed by type', () => {
  assert.equal(parseValue({ name: 'n', type: 'int', default: 1 }, ' 42 '), 42);
  assert.throws(() => parseValue({ name: 'n', type: 'int', default: 1 }, '4.2'), /whole/);
  assert.equal(parseValue({ name: 'c', type: 'float', default: 1.0 }, '0.5'), 0.5);
  assert.equal(parseValue({ name: 'b', type: 'bool', default: true }, 'False'), false);
  assert.equal(parseValue({ name: 's', type: 'str', default: 'x' }, 'a b'), 'a b');
  assert.deepEqual(parseValue({ name: 'l', type: 'list', default: [] }, '[1, 2]'), [1, 2]);
  assert.throws(() => parseValue({ name: 'l', type: 'list', default: [] }, '[1,'), /JSON/);
  assert.equal(formatValue({ name: 'l', type: 'list', default: [1] }), '[1]');
});
