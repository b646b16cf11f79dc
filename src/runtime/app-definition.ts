import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { InputError, showValue } from '../core/errors.ts';
import { stageNameProblem } from '../core/names.ts';
import { toInputError } from '../core/validation.ts';

/**
 * The app definition: what a release carries in its steward.yaml. Process
 * types like a Procfile, a health probe, a migration command, environment
 * per stage and resource limits. Parsed once, when a release is added.
 */
export const appDefinitionFile = 'steward.yaml';

const appNamePattern = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const processNamePattern = /^[a-z][a-z0-9-]{0,29}$/;
const envNamePattern = /^[A-Z_][A-Z0-9_]*$/;
export const maxProcessTypes = 10;
/** Copies of one process type a release may ask for. */
export const maxInstances = 10;
/** Steward sets these itself; an app that set them would break isolation or routing. */
export const reservedEnvNames = ['DATABASE_URL', 'PORT'] as const;
export const reservedEnvPrefix = 'STEWARD_';

const command = z
  .string()
  .min(1)
  .max(4000)
  .describe('a shell command, run with /bin/sh -c in the release directory');

const commandBlock = (what: string) => z.object({ command }).strict().describe(what);

const processSchema = z
  .object({
    command,
    port: z.boolean().default(false).describe('true for the one process type that serves HTTP; it gets PORT'),
    instances: z.number().int().min(1).max(maxInstances).default(1).describe('how many copies run'),
  })
  .strict();

const healthSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[\x21-\x7e]*$/, 'must be a URL path starting with "/", for example "/healthz"')
      .max(200)
      .describe('HTTP path probed on the port process'),
    intervalSeconds: z.number().int().min(1).max(300).default(2),
    timeoutSeconds: z.number().int().min(1).max(60).default(1),
    failureThreshold: z.number().int().min(1).max(100).default(3),
    startTimeoutSeconds: z.number().int().min(1).max(3600).default(30),
  })
  .strict();

const envName = z
  .string()
  .regex(envNamePattern, 'environment variable names use A-Z, digits and "_", not starting with a digit')
  .max(128);
const envValue = z.string().max(32 * 1024);
const envMap = z.record(envName, envValue);

const stageName = z.string().superRefine((value, ctx) => {
  const problem = stageNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
});

export const appDefinitionSchema = z
  .object({
    name: z
      .string()
      .regex(
        appNamePattern,
        'must be a DNS label: 1-40 characters, lower-case a-z, digits and hyphens, starting with a letter and not ending with a hyphen',
      )
      .describe('the app name (a DNS label)'),
    processes: z
      .record(
        z
          .string()
          .regex(
            processNamePattern,
            'process type names use lower-case a-z, digits and "-", starting with a letter, at most 30 characters',
          ),
        processSchema,
      )
      .describe('process types, like a Procfile'),
    health: healthSchema.optional().describe('required when a process type has a port'),
    migrate: commandBlock('run against the stage database before new processes start').optional(),
    build: commandBlock('run once in the release directory when the release is added').optional(),
    verify: commandBlock('verification run after a restore test').optional(),
    env: z
      .object({
        common: envMap.default({}).describe('environment of every stage'),
        stages: z.record(stageName, envMap).default({}).describe('environment per stage, over common'),
      })
      .strict()
      .prefault({}),
    resources: z
      .object({
        memoryMb: z.number().int().min(32).max(65536).optional().describe('memory limit per process'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((app, ctx) => {
    const names = Object.keys(app.processes);
    if (names.length === 0 || names.length > maxProcessTypes) {
      ctx.addIssue({
        code: 'custom',
        path: ['processes'],
        input: names.length,
        message: `field "processes" has ${names.length} process types; define between 1 and ${maxProcessTypes}`,
      });
    }
    const ported = names.filter((n) => app.processes[n]?.port);
    if (ported.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['processes', ported[1] ?? '', 'port'],
        input: true,
        message: `field "processes.${ported[1] ?? ''}.port": only one process type may have a port, and ${ported[0] ?? ''} already has it`,
      });
    }
    if (ported.length > 0 && !app.health) {
      ctx.addIssue({
        code: 'custom',
        path: ['health'],
        input: undefined,
        message: `field "health" is required because process type ${ported[0] ?? ''} has a port; give at least "health: { path: /healthz }"`,
      });
    }
    const checkEnv = (vars: Record<string, string>, path: readonly string[]): void => {
      for (const key of Object.keys(vars)) {
        if ((reservedEnvNames as readonly string[]).includes(key) || key.startsWith(reservedEnvPrefix)) {
          const field = [...path, key].join('.');
          ctx.addIssue({
            code: 'custom',
            path: [...path, key],
            input: key,
            message: `field "${field}": ${showValue(key)} is set by Steward and cannot be set here (reserved: ${reservedEnvNames.join(', ')}, ${reservedEnvPrefix}*)`,
          });
        }
      }
    };
    checkEnv(app.env.common, ['env', 'common']);
    for (const [stage, vars] of Object.entries(app.env.stages)) checkEnv(vars, ['env', 'stages', stage]);
  });

export type AppDefinition = z.output<typeof appDefinitionSchema>;
export type AppDefinitionInput = z.input<typeof appDefinitionSchema>;
export type ProcessDefinition = AppDefinition['processes'][string];

/** The JSON schema of steward.yaml, for editors; committed as schemas/steward.app.schema.json. */
export function appDefinitionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(appDefinitionSchema, { io: 'input' });
  return {
    $schema: schema.$schema,
    $id: 'https://steward.dev/schemas/steward.app.schema.json',
    title: 'Steward app definition (steward.yaml)',
    ...schema,
  };
}

/**
 * Parses steward.yaml text into a resolved definition. Every error names the
 * file, the line, the field and what would be accepted.
 */
export function parseAppDefinition(text: string, fileName = appDefinitionFile): AppDefinition {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = lineCounter.linePos(syntax.pos[0]);
    const reason = syntax.message.split('\n')[0] ?? syntax.message;
    throw new InputError(`${fileName}, line ${at.line}, column ${at.col}: not valid YAML: ${reason}`, {
      field: fileName,
    });
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new InputError(`${fileName}: ${(error as Error).message}`, { field: fileName, cause: error });
  }
  if (data === null || data === undefined) {
    throw new InputError(
      `${fileName} is empty; it needs at least "name" and "processes" (see "steward app schema")`,
      { field: fileName },
    );
  }
  const result = appDefinitionSchema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;
  // An unknown field is usually a typo of a missing one: report the typo, it says more.
  const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0];
  const problem = describeIssue(new z.ZodError(issue ? [issue] : []), fileName);
  const path = issue ? issue.path.map((p) => (typeof p === 'number' ? p : String(p))) : [];
  const offset =
    issue?.code === 'unrecognized_keys'
      ? nodeOffset(doc.contents, [...path, issue.keys[0] ?? ''], true)
      : nodeOffset(doc.contents, path, issue?.code === 'invalid_key');
  const line = offset === undefined ? undefined : lineCounter.linePos(offset).line;
  return throwAt(fileName, line, problem);
}

/** Messages for the issues the shared formatter words generically: bad keys and patterns. */
function describeIssue(error: z.ZodError, fileName: string): InputError {
  const issue = error.issues[0];
  if (!issue) return new InputError(`${fileName} is not valid`);
  const field = issue.path.map(String).join('.');
  if (issue.code === 'invalid_key') {
    const key = issue.path[issue.path.length - 1];
    const reason = issue.issues[0]?.message ?? 'is not accepted';
    return new InputError(`field "${field}": the name ${showValue(key)} is not accepted: ${reason}`, {
      field,
    });
  }
  if (issue.code === 'unrecognized_keys') {
    const unknownField = [...issue.path.map(String), issue.keys[0] ?? ''].join('.');
    const accepted = acceptedFields(issue.path);
    return new InputError(
      `unknown field "${unknownField}"${accepted.length ? `; accepted fields here are: ${accepted.join(', ')}` : ''}`,
      { field: unknownField },
    );
  }
  if (issue.code === 'invalid_format' && issue.format === 'regex') {
    const input = (issue as { input?: unknown }).input;
    return new InputError(`field "${field}": ${showValue(input)} is not accepted: ${issue.message}`, {
      field,
    });
  }
  return toInputError(error, appDefinitionSchema, fileName);
}

function throwAt(fileName: string, line: number | undefined, problem: InputError): never {
  const where = line === undefined ? fileName : `${fileName}, line ${line}`;
  throw new InputError(`${where}: ${problem.message}`, {
    ...(problem.field ? { field: problem.field } : {}),
  });
}

/**
 * The offset of the node a zod path points at: the key itself when the key
 * is what is wrong (unknown, or a bad name), else the value; a missing field
 * is reported where the deepest existing node along its path is.
 */
function nodeOffset(root: unknown, path: readonly (string | number)[], atKey: boolean): number | undefined {
  let node = root as YamlNode | null | undefined;
  let offset = node?.range?.[0];
  for (const [i, segment] of path.entries()) {
    let key: YamlNode | undefined;
    let value: YamlNode | null | undefined;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      key = pair.key as YamlNode;
      value = pair.value as YamlNode | null;
    } else if (isSeq(node) && typeof segment === 'number') {
      value = node.items[segment] as YamlNode | undefined;
      if (!value) break;
    } else break;
    const last = i === path.length - 1;
    offset = (last && atKey ? key?.range?.[0] : (value?.range?.[0] ?? key?.range?.[0])) ?? offset;
    node = value;
  }
  return offset;
}

/** The fields an object in the schema accepts, following records and optionals along the path. */
function acceptedFields(path: readonly PropertyKey[]): string[] {
  let current: unknown = appDefinitionSchema;
  for (const segment of path) {
    current = unwrapSchema(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, unknown>)[String(segment)];
    else if (current instanceof z.ZodRecord) current = current.valueType;
    else return [];
  }
  current = unwrapSchema(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrapSchema(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault
    ) {
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      current = current.in;
    } else return current;
  }
}
