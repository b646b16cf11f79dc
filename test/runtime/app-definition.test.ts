import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import { appDefinitionJsonSchema, parseAppDefinition } from '../../src/runtime/app-definition.ts';
import { safeArchivePath, symlinkStaysInside } from '../../src/runtime/tar.ts';
import { assertReleaseVersion } from '../../src/runtime/releases.ts';

const ledger = `name: ledger
processes:
  web:
    command: node src/server.ts
    port: true
    instances: 1
  worker:
    command: node src/worker.ts
health:
  path: /healthz
  intervalSeconds: 2
  timeoutSeconds: 1
  failureThreshold: 3
  startTimeoutSeconds: 30
migrate:
  command: node src/migrate.ts
build:
  command: npm ci --omit=dev --prefer-offline --no-audit --no-fund
verify:
  command: node src/verify.ts
env:
  common: { KEY: value }
  stages:
    dev: { KEY: value }
resources:
  memoryMb: 256
`;

function problem(text: string): InputError {
  try {
    parseAppDefinition(text, 'steward.yaml');
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('parseAppDefinition', () => {
  it('parses the sample app and applies defaults', () => {
    const app = parseAppDefinition(ledger, 'steward.yaml');
    expect(app.name).toBe('ledger');
    expect(app.processes.web).toEqual({ command: 'node src/server.ts', port: true, instances: 1 });
    expect(app.processes.worker).toEqual({ command: 'node src/worker.ts', port: false, instances: 1 });
    expect(app.health?.path).toBe('/healthz');
    expect(app.migrate?.command).toBe('node src/migrate.ts');
    expect(app.env.stages.dev).toEqual({ KEY: 'value' });
    expect(app.resources.memoryMb).toBe(256);
  });

  it('fills in the defaults of a minimal definition', () => {
    const app = parseAppDefinition(
      'name: tiny\nprocesses:\n  web:\n    command: node s.ts\n    port: true\nhealth:\n  path: /h\n',
    );
    expect(app.health).toEqual({
      path: '/h',
      intervalSeconds: 2,
      timeoutSeconds: 1,
      failureThreshold: 3,
      startTimeoutSeconds: 30,
    });
    expect(app.env).toEqual({ common: {}, stages: {} });
    expect(app.resources).toEqual({});
    expect(app.build).toBeUndefined();
  });

  const minimal = 'name: a\nprocesses:\n  worker:\n    command: x\n';
  const cases: readonly {
    readonly name: string;
    readonly text: string;
    readonly line: number;
    readonly field: string;
    readonly says: string;
  }[] = [
    {
      name: 'unknown top-level field',
      text: `${minimal}colour: red\n`,
      line: 5,
      field: 'colour',
      says: 'accepted fields here are: name, processes, health',
    },
    {
      name: 'unknown process field',
      text: 'name: a\nprocesses:\n  web:\n    command: x\n    restart: always\n',
      line: 5,
      field: 'processes.web.restart',
      says: 'command, port, instances',
    },
    {
      name: 'a misspelt field, rather than the missing one',
      text: 'name: a\nprocesses:\n  web:\n    comand: x\n',
      line: 4,
      field: 'processes.web.comand',
      says: 'unknown field',
    },
    {
      name: 'wrong type',
      text: 'name: a\nprocesses:\n  web:\n    command: x\n    port: "yes"\n',
      line: 5,
      field: 'processes.web.port',
      says: 'must be a boolean',
    },
    {
      name: 'bad app name',
      text: 'name: Ledger\nprocesses:\n  web:\n    command: x\n',
      line: 1,
      field: 'name',
      says: 'DNS label',
    },
    {
      name: 'app name too long',
      text: `name: ${'a'.repeat(41)}\nprocesses:\n  web:\n    command: x\n`,
      line: 1,
      field: 'name',
      says: '1-40 characters',
    },
    {
      name: 'bad process name',
      text: 'name: a\nprocesses:\n  Web:\n    command: x\n',
      line: 3,
      field: 'processes.Web',
      says: 'lower-case a-z',
    },
    {
      name: 'no process types',
      text: 'name: a\nprocesses: {}\n',
      line: 2,
      field: 'processes',
      says: 'between 1 and 10',
    },
    {
      name: 'too many process types',
      text: `name: a\nprocesses:\n${Array.from({ length: 11 }, (_, i) => `  p${i}: { command: x }\n`).join('')}`,
      line: 3,
      field: 'processes',
      says: 'between 1 and 10',
    },
    {
      name: 'missing command',
      text: 'name: a\nprocesses:\n  web:\n    port: false\n',
      line: 4,
      field: 'processes.web.command',
      says: 'required',
    },
    {
      name: 'two ports',
      text: 'name: a\nprocesses:\n  web: { command: x, port: true }\n  api:\n    command: y\n    port: true\nhealth: { path: /h }\n',
      line: 6,
      field: 'processes.api.port',
      says: 'only one process type may have a port',
    },
    {
      name: 'port without health',
      text: 'name: a\nprocesses:\n  web: { command: x, port: true }\n',
      line: 1,
      field: 'health',
      says: 'required because process type web has a port',
    },
    {
      name: 'instances out of range',
      text: 'name: a\nprocesses:\n  web:\n    command: x\n    instances: 11\n',
      line: 5,
      field: 'processes.web.instances',
      says: 'at most 10',
    },
    {
      name: 'health path without slash',
      text: `${minimal}health:\n  path: healthz\n`,
      line: 6,
      field: 'health.path',
      says: 'starting with "/"',
    },
    {
      name: 'unknown health field',
      text: `${minimal}health:\n  path: /h\n  retries: 3\n`,
      line: 7,
      field: 'health.retries',
      says: 'intervalSeconds',
    },
    {
      name: 'reserved env name',
      text: `${minimal}env:\n  common:\n    DATABASE_URL: postgres://x\n`,
      line: 7,
      field: 'env.common.DATABASE_URL',
      says: 'set by Steward',
    },
    {
      name: 'reserved env prefix in a stage',
      text: `${minimal}env:\n  stages:\n    prod:\n      STEWARD_STAGE: x\n`,
      line: 8,
      field: 'env.stages.prod.STEWARD_STAGE',
      says: 'STEWARD_*',
    },
    {
      name: 'bad env name',
      text: `${minimal}env:\n  common:\n    lower: x\n`,
      line: 7,
      field: 'env.common.lower',
      says: 'A-Z, digits and "_"',
    },
    {
      name: 'env value not a string',
      text: `${minimal}env:\n  common:\n    WORKERS: 4\n`,
      line: 7,
      field: 'env.common.WORKERS',
      says: 'must be a string',
    },
    {
      name: 'bad stage name',
      text: `${minimal}env:\n  stages:\n    Prod: {}\n`,
      line: 7,
      field: 'env.stages.Prod',
      says: 'stage name',
    },
    {
      name: 'memory too small',
      text: `${minimal}resources:\n  memoryMb: 8\n`,
      line: 6,
      field: 'resources.memoryMb',
      says: 'at least 32',
    },
    {
      name: 'unknown migrate field',
      text: `${minimal}migrate:\n  command: x\n  timeout: 3\n`,
      line: 7,
      field: 'migrate.timeout',
      says: 'command',
    },
    {
      name: 'missing name',
      text: 'processes:\n  web:\n    command: x\n',
      line: 1,
      field: 'name',
      says: 'required',
    },
  ];

  it.each(cases)('refuses $name, naming line $line and field $field', ({ text, line, field, says }) => {
    const error = problem(text);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`steward.yaml, line ${line}:`);
    expect(error.message).toContain(field);
    expect(error.message).toContain(says);
  });

  it.each([
    { name: 'a broken flow map', text: 'name: a\nprocesses:\n  web: {command: x\n', line: 4 },
    { name: 'a duplicate key', text: 'name: a\nname: b\n', line: 2 },
    { name: 'a tab indentation', text: 'name: a\nprocesses:\n\tweb: x\n', line: 3 },
  ])('reports YAML syntax errors ($name) with line and column', ({ text, line }) => {
    const error = problem(text);
    expect(error.message).toMatch(new RegExp(`^steward\\.yaml, line ${line}, column \\d+: not valid YAML`));
  });

  it('refuses an empty file and a file that is not a mapping', () => {
    expect(problem('').message).toContain('is empty');
    expect(problem('- a\n').message).toContain('must be an object');
  });
});

describe('the JSON schema', () => {
  it('is committed as schemas/steward.app.schema.json, as generated', () => {
    const committed: unknown = JSON.parse(
      readFileSync(new URL('../../schemas/steward.app.schema.json', import.meta.url), 'utf8'),
    );
    // Regenerate with: node src/cli/main.ts app schema > schemas/steward.app.schema.json && npx prettier --write schemas
    expect(committed).toEqual(appDefinitionJsonSchema());
  });

  it('refuses unknown fields and requires name and processes', () => {
    const schema = appDefinitionJsonSchema() as { additionalProperties: unknown; required: string[] };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['name', 'processes']);
  });
});

describe('archive paths', () => {
  it.each([
    ['./', undefined],
    ['.', undefined],
    ['./steward.yaml', 'steward.yaml'],
    ['src//server.ts', 'src/server.ts'],
    ['./src/./a/', 'src/a'],
  ])('normalises %j to %j', (input, expected) => {
    expect(safeArchivePath(input)).toBe(expected);
  });

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', 'a\0b'])('refuses %j', (input) => {
    expect(() => safeArchivePath(input)).toThrow(InputError);
  });

  it.each([
    ['bin/run', '../src/run.ts', true],
    ['a/b/c', '../../x', true],
    ['a/b', '../../x', false],
    ['link', '/etc/passwd', false],
    ['link', '..', false],
    ['link', '', false],
    ['dir/link', '.', true],
  ] as const)('symlink %j -> %j stays inside: %j', (path, target, inside) => {
    expect(symlinkStaysInside(path, target)).toBe(inside);
  });
});

describe('release versions', () => {
  it.each(['1.0.0', '2.1.0-rc.1', '1.0.0+build.5', 'v1', 'a'])('accepts %j', (v) => {
    expect(assertReleaseVersion(v)).toBe(v);
  });
  it.each(['', '-1', '.1', '1/2', '1 0', 'x'.repeat(65), '1.0.0_a'])('refuses %j', (v) => {
    expect(() => assertReleaseVersion(v)).toThrow(/not a release version/);
  });
});
