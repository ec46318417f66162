// Split a command string into argv the way Compose does (go-shellwords): whitespace separates
// words, single quotes keep text literally, double quotes allow \" \\ \$ and \` escapes, a
// backslash outside quotes escapes the next character. No variable or glob expansion.

export class ShellSplitError extends Error {}

export function shellSplit(input: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) {
        out.push(cur);
        cur = '';
        inWord = false;
      }
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 >= input.length) throw new ShellSplitError(`trailing backslash in "${input}"`);
      cur += input[i + 1];
      i += 2;
      continue;
    }
    if (c === "'") {
      const close = input.indexOf("'", i + 1);
      if (close === -1) throw new ShellSplitError(`unterminated single quote in "${input}"`);
      cur += input.slice(i + 1, close);
      i = close + 1;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      for (; j < input.length && input[j] !== '"'; j++) {
        if (input[j] === '\\' && j + 1 < input.length && '"\\$`'.includes(input[j + 1])) {
          cur += input[j + 1];
          j++;
        } else {
          cur += input[j];
        }
      }
      if (j >= input.length) throw new ShellSplitError(`unterminated double quote in "${input}"`);
      i = j + 1;
      continue;
    }
    cur += c;
    i++;
  }
  if (inWord) out.push(cur);
  return out;
}
