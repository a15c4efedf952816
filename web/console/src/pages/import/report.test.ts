import { describe, expect, it } from 'vitest';
import { csvCell, reportCSV } from './report';

describe('rejection report', () => {
  it('quotes what CSV needs quoted and defuses formulas', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
    expect(csvCell(-3)).toBe("'-3");
    expect(csvCell(undefined)).toBe('');
  });

  it('writes a BOM, the header and one line a row', () => {
    const csv = reportCSV('行号,错误代码,字段,原因,原始行', [
      { index: 7, code: 'invalid', field: 'status', message: 'must be one of …', text: 'R1,2026-11-21,[phone *******7777 h:ab]' },
    ]);
    expect(csv.startsWith('\ufeff行号')).toBe(true);
    expect(csv.split('\r\n')[1]).toBe('7,invalid,status,must be one of …,"R1,2026-11-21,[phone *******7777 h:ab]"');
  });
});
