import { METHODS } from '../../compress/registry.js';
import { describeOptionType } from '../../compress/method-options.js';
import { OUTPUT_OPTIONS, parseOptions, type OptionTable } from '../options.js';

export const summary = 'list the KV-cache compression methods with their options, types and defaults';

export const help = `Usage: kvmerger methods [--json]

List every compression method: a one-line description and its options (name, type or allowed values,
default). Other commands take them as --method NAME --method-option name=value (generate) or
--methods LIST --method-option method.name=value (eval; both forms work in both).

  --json        print exactly one JSON object: {"methods": [{"name", "description", "decodeTime",
                "options": [{"name", "type", "values"?, "min"?, "max"?, "default",
                "description"}]}]}
  -q, --quiet   nothing on stderr but errors

Example:
  kvmerger generate -p "..." --method kvmerger --budget 0.5 --method-option granularity=headShared`;

const OPTIONS = { ...OUTPUT_OPTIONS } as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('methods', argv, OPTIONS);
  const methods = [...METHODS.values()].map((m) => ({
    name: m.name,
    description: m.description,
    // methods that can compress during decoding (with the option that turns it on)
    decodeTime: m.decodePolicy !== undefined,
    options: m.options.map((o) => ({
      name: o.name,
      type: o.type,
      ...(o.values ? { values: [...o.values] } : {}),
      ...(o.min !== undefined ? { min: o.min } : {}),
      ...(o.minExclusive ? { minExclusive: true } : {}),
      ...(o.max !== undefined ? { max: o.max } : {}),
      default: o.default,
      description: o.description,
    })),
  }));
  if (values.json) {
    process.stdout.write(JSON.stringify({ methods }) + '\n');
    return 0;
  }
  const lines: string[] = [];
  for (const m of [...METHODS.values()]) {
    lines.push(`${m.name}  ${m.description}`);
    if (m.options.length === 0) lines.push('    (no options)');
    for (const o of m.options) {
      lines.push(`    ${o.name} = ${String(o.default)}    (${describeOptionType(o)})`);
      lines.push(`        ${o.description}`);
    }
    lines.push('');
  }
  lines.push('Give options as --method-option name=value; a budget as --budget 0.5 or --budget-tokens N.');
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
