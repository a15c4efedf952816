import { useMemo } from 'react';
import { Alert } from 'antd';
import { useTranslation } from 'react-i18next';

export interface RuleProblem { line: number; column: number; message: string }

// RuleEditor is a plain textarea with a line-number gutter. A problem's
// line is marked in the gutter and the text from its column to the end of
// the word is underlined (columns count characters, as the server does).
export default function RuleEditor({ value, onChange, problem, readOnly }: { value: string; onChange: (v: string) => void; problem?: RuleProblem | null; readOnly?: boolean }) {
  const { t } = useTranslation();
  const lines = value.split('\n');
  const mirror = useMemo(() => {
    if (!problem) return null;
    const chars = Array.from(value); // code points, like the server's columns
    let idx = 0, line = 1;
    while (idx < chars.length && line < problem.line) {
      if (chars[idx] === '\n') line++;
      idx++;
    }
    const start = Math.min(idx + Math.max(problem.column - 1, 0), chars.length);
    let end = start;
    while (end < chars.length && !/[\s()\[\]{},&|!=<>]/.test(chars[end])) end++;
    if (end === start) end = Math.min(start + 1, chars.length);
    const before = chars.slice(0, start).join('');
    const marked = chars.slice(start, end).join('') || ' ';
    const after = chars.slice(end).join('');
    return (
      <>
        {before}
        <mark data-testid="rule-error-mark">{marked}</mark>
        {after}
      </>
    );
  }, [value, problem]);
  return (
    <div>
      <div className={'rule-editor' + (problem ? ' has-error' : '')}>
        <div className="rule-gutter" aria-hidden>
          {lines.map((_, i) => (
            <div key={i} className={problem && problem.line === i + 1 ? 'err' : ''} data-testid={problem && problem.line === i + 1 ? 'rule-error-line' : undefined}>
              {problem && problem.line === i + 1 ? '✕ ' : ''}{i + 1}
            </div>
          ))}
        </div>
        <div className="rule-body">
          <div className="rule-mirror" aria-hidden>{mirror}</div>
          <textarea
            data-testid="rule-text"
            spellCheck={false}
            readOnly={readOnly}
            value={value}
            rows={Math.max(6, lines.length + 1)}
            onChange={(e) => onChange(e.target.value)}
            placeholder={t('ruleEditor.eGDidVideo')}
          />
        </div>
      </div>
      {problem && (
        <Alert className="rule-error" type="error" showIcon data-testid="rule-error"
          message={`${t('ruleEditor.lineColumn', { line: problem.line, column: problem.column })}${problem.message}`} />
      )}
    </div>
  );
}
