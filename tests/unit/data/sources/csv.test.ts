import { describe, expect, it } from 'vitest';
import { csvLine, decodeUtf8, parseCsv } from '../../../../src/data/sources/csv.js';
import { SourceError } from '../../../../src/data/sources/types.js';

describe('parseCsv', () => {
  it('reads quoted fields with commas, escaped quotes and line breaks, and numbers records by their first line', () => {
    const text = 'path,label\n"a,b.png",cat\n"say ""hi"".png","multi\nline"\nplain.png,dog\n';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['path', 'label'] },
      { line: 2, fields: ['a,b.png', 'cat'] },
      { line: 3, fields: ['say "hi".png', 'multi\nline'] },
      { line: 5, fields: ['plain.png', 'dog'] },
    ]);
  });

  it('strips a BOM, accepts CRLF, CR and a missing final newline, and skips blank and all-empty lines', () => {
    const text = '\ufeffpath,label\r\n\r\na.png,cat\r\n  \r\n,,\r\nb.png,dog\rc.png,bird';
    expect(parseCsv(text, 'f.csv')).toEqual([
      { line: 1, fields: ['path', 'label'] },
      { line: 3, fields: ['a.png', 'cat'] },
      { line: 6, fields: ['b.png', 'dog'] },
      { line: 7, fields: ['c.png', 'bird'] },
    ]);
  });

  it('keeps a quote inside an unquoted field and empty trailing fields', () => {
    expect(parseCsv('my "best" cat.png,cat,\n', 'f.csv')).toEqual([{ line: 1, fields: ['my "best" cat.png', 'cat', ''] }]);
  });

  it('names the line of an unclosed quote and of text after a closing quote', () => {
    expect(() => parseCsv('path,label\na.png,cat\n"b.png,dog\n', 'f.csv')).toThrow(/f\.csv line 3: a quoted field is never closed/);
    expect(() => parseCsv('path,label\n"a.png"x,cat\n', 'f.csv')).toThrow(SourceError);
    expect(() => parseCsv('path,label\n"a.png"x,cat\n', 'f.csv')).toThrow(/f\.csv line 2: unexpected "x" after the closing quote of field 1/);
  });

  it('writes fields that read back the same', () => {
    const fields = ['a,b', 'say "hi"', 'two\r\nlines', ' padded ', 'plain', ''];
    expect(parseCsv(`${csvLine(fields)},x\n`, 'f.csv')[0]?.fields).toEqual([...fields, 'x']);
  });

  it('refuses text that is not UTF-8', () => {
    expect(decodeUtf8(Buffer.from('path,label\nchat.png,été\n'), 'f.csv')).toContain('été');
    expect(() => decodeUtf8(Buffer.from([0x70, 0x2c, 0xe9, 0x0a]), 'f.csv')).toThrow(/f\.csv: is not valid UTF-8 text/);
  });
});
