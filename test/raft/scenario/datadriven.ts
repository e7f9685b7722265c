// The scenario file format (as cockroachdb/datadriven): blocks of a command line, a `----` line
// and the expected output up to the next blank line; `#` lines and blank lines between blocks
// are kept as they are. Parses a file into blocks and writes it back with new outputs.

export interface Command {
  name: string;
  /** Bare words after the name, in order: `campaign 1` has ["1"]. */
  positional: string[];
  /** `key=value` and `key=(a,b)` arguments; a bare value is a one-element list. */
  keyed: Map<string, string[]>;
  /** 1-based line of the command in its file, for error messages. */
  line: number;
  text: string;
}

export interface Block {
  /** The comment and blank lines before the command, verbatim. */
  leading: string[];
  command: Command;
  /** Null when the file has no `----` for this command yet (a new one, to be rewritten). */
  expected: string[] | null;
}

export interface ScenarioFile {
  blocks: Block[];
  /** Comment and blank lines after the last block. */
  trailing: string[];
}

const separator = '----';

/** Splits on blanks, keeping "quoted words" (with \" escapes) whole. */
function tokenize(text: string, line: number): string[] {
  const tokens: string[] = [];
  const pattern = /\s*((?:[^\s"]+|"(?:[^"\\]|\\.)*")+)/gy;
  let match: RegExpExecArray | null;
  let end = 0;
  while ((match = pattern.exec(text)) !== null) {
    tokens.push(match[1]!);
    end = pattern.lastIndex;
  }
  if (text.slice(end).trim() !== '') throw new Error(`line ${line}: unbalanced quote in ${JSON.stringify(text)}`);
  return tokens;
}

const unquote = (s: string): string => (s.startsWith('"') ? (JSON.parse(s) as string) : s);

export function parseCommand(text: string, line: number): Command {
  const [name, ...args] = tokenize(text, line);
  if (name === undefined) throw new Error(`line ${line}: empty command`);
  const command: Command = { name, positional: [], keyed: new Map(), line, text };
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0 || arg.startsWith('"')) {
      command.positional.push(unquote(arg));
      continue;
    }
    const value = arg.slice(eq + 1);
    const list = value.startsWith('(') && value.endsWith(')') ? value.slice(1, -1).split(',').filter((v) => v !== '') : [value];
    command.keyed.set(arg.slice(0, eq), list.map((v) => unquote(v.trim())));
  }
  return command;
}

export function parseScenario(text: string): ScenarioFile {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const blocks: Block[] = [];
  let leading: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      leading.push(line);
      i++;
      continue;
    }
    const command = parseCommand(line, i + 1);
    i++;
    let expected: string[] | null = null;
    if (lines[i] === separator) {
      expected = [];
      for (i++; i < lines.length && lines[i]!.trim() !== ''; i++) expected.push(lines[i]!);
    }
    blocks.push({ leading, command, expected });
    leading = [];
  }
  return { blocks, trailing: leading };
}

/** The file with each block's output replaced by `outputs[i]`. */
export function formatScenario(file: ScenarioFile, outputs: string[][]): string {
  const lines: string[] = [];
  file.blocks.forEach((block, index) => {
    lines.push(...block.leading, block.command.text, separator, ...(outputs[index] ?? []));
    // A block's output ends at a blank line: make sure one follows before the next command.
    const next = file.blocks[index + 1];
    if (next !== undefined && (next.leading.length === 0 || next.leading[0]!.trim() !== '')) lines.push('');
  });
  lines.push(...file.trailing);
  while (lines.at(-1) === '') lines.pop();
  return lines.join('\n') + '\n';
}
