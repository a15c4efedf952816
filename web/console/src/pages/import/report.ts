// The report of an import's refused rows, as a CSV file Excel opens
// (UTF-8 with a byte-order mark): line, error code, field, reason and the
// row as the file had it, masked by the server.

export type ReportRow = { index: number; code: string; field?: string; message: string; text?: string };

// csvCell quotes a value when it holds a comma, a quote or a line break,
// and neutralises a leading = + - @ so that Excel does not run it as a
// formula.
export function csvCell(v: string | number | undefined): string {
  let s = v === undefined ? '' : String(v);
  if (/^[=+\-@]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

// reportCSV writes the rows under header (the catalog's column names).
export function reportCSV(header: string, rows: ReportRow[]): string {
  const lines = [header];
  for (const r of rows) lines.push([r.index, r.code, r.field, r.message, r.text].map(csvCell).join(','));
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

// download saves text as a file through a temporary link.
export function download(name: string, text: string, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// previewSlice is what a preview needs of a file: a text file's first
// 2 MB (the preview reads only its first rows), a workbook or a gzip file
// whole (a zip is read from its end; a cut gzip stream still decodes).
export function previewSlice(file: File): Blob {
  const name = file.name.toLowerCase();
  if (name.endsWith('.xlsx') || name.endsWith('.gz')) return file;
  return file.slice(0, 2 << 20);
}
