import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { App } from 'antd';
import type { FormInstance } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, ApiError, Estimate, get, getToken, Overlap, PersonSummary, post, Segment } from '../../api';
import type { RuleProblem } from '../../components/RuleEditor';
import { fmtInt } from '../../components/common';
import { parse } from '../../rule';

// useLiveEstimate estimates the rule as it is typed: debounced, and a
// newer rule cancels the request in flight, so the count shown is always
// the current rule's. A rule error with a position is a problem (marked in
// the editor); other errors are estErr. Up to ten sample members are
// summarised.
export function useLiveEstimate(rule: string) {
  // The estimate and the rule it counts, kept together so the page never
  // shows one rule's count beside another rule.
  const [estimate, setEstimate] = useState<{ rule: string; e: Estimate } | null>(null);
  const [estimating, setEstimating] = useState(false);
  const [problem, setProblem] = useState<RuleProblem | null>(null);
  const [estErr, setEstErr] = useState<unknown>(null);
  const [samples, setSamples] = useState<PersonSummary[]>([]);
  const seq = useRef(0);
  useEffect(() => {
    if (!rule.trim()) {
      setEstimate(null);
      setProblem(null);
      setEstErr(null);
      return;
    }
    const my = ++seq.current;
    const ac = new AbortController();
    const timer = setTimeout(async () => {
      setEstimating(true);
      try {
        const e = await post<Estimate>('/segments/estimate', { rule, sample: 10 }, ac.signal);
        if (my !== seq.current) return;
        setEstimate({ rule, e });
        setProblem(null);
        setEstErr(null);
        if (e.sample.length) post<{ items: PersonSummary[] }>('/profiles/summaries', { ids: e.sample }).then((r) => my === seq.current && setSamples(r.items)).catch(() => setSamples([]));
        else setSamples([]);
      } catch (err) {
        if ((err as Error)?.name === 'AbortError' || my !== seq.current) return;
        const ae = err as ApiError;
        if (ae.line) {
          setProblem({ line: ae.line, column: ae.column || 1, message: ae.message });
          setEstErr(null);
        } else {
          setProblem(null);
          setEstErr(err);
        }
      } finally {
        if (my === seq.current) setEstimating(false);
      }
    }, 400);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [rule]);
  return { estimate, est: estimate?.e ?? null, estimating, problem, setProblem, estErr, samples };
}

// useOverlap compares the rule with another saved segment (none while the
// rule is empty or has a problem).
export function useOverlap(rule: string, other: string | undefined, problem: RuleProblem | null) {
  const [overlap, setOverlap] = useState<Overlap | null>(null);
  const [overlapping, setOverlapping] = useState(false);
  useEffect(() => {
    if (!other || !rule.trim() || problem) {
      setOverlap(null);
      return;
    }
    const ac = new AbortController();
    setOverlapping(true);
    post<Overlap>('/segments/overlap', { a: rule, b: other }, ac.signal)
      .then(setOverlap)
      .catch(() => setOverlap(null))
      .finally(() => setOverlapping(false));
    return () => ac.abort();
  }, [other, rule, problem]);
  return { overlap, overlapping };
}

export interface SegmentFields { name: string; description?: string; live: boolean }

// useSegmentEditor loads the segment being edited (id; none for a new one)
// into the form and the rule (a rule the visual builder cannot show opens
// as text), and saves, recomputes and exports it. A saved rule's error
// with a position is marked as a problem.
export function useSegmentEditor(id: string | undefined, form: FormInstance<SegmentFields>, rule: string, on: {
  setRule: (r: string) => void; textOnly: () => void; setProblem: (p: RuleProblem) => void;
}) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [seg, setSeg] = useState<Segment | null>(null);
  const [loadErr, setLoadErr] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [saveErr, setSaveErr] = useState<unknown>(null);
  const [recomputing, setRecomputing] = useState(false);
  const { setRule, textOnly, setProblem } = on;
  useEffect(() => {
    if (!id) return;
    get<Segment>('/segments/' + id)
      .then((s) => {
        setSeg(s);
        setRule(s.rule);
        form.setFieldsValue({ name: s.name, description: s.description, live: s.live });
        if (!parse(s.rule)) textOnly();
      })
      .catch(setLoadErr);
  }, [id, form, setRule, textOnly]);

  const save = async () => {
    const v = await form.validateFields();
    setSaving(true);
    setSaveErr(null);
    try {
      const body = { name: v.name, description: v.description || '', rule, live: v.live };
      const saved = id ? await api<Segment>('PUT', '/segments/' + id, body) : await post<Segment>('/segments', body);
      message.success(t('segmentBuilder.savedPeople', { name: saved.name, size: fmtInt(saved.size) }));
      setSeg(saved);
      if (!id) navigate('/segments/' + saved.id, { replace: true });
    } catch (e) {
      const ae = e as ApiError;
      if (ae.line) setProblem({ line: ae.line, column: ae.column || 1, message: ae.message });
      setSaveErr(e);
    } finally {
      setSaving(false);
    }
  };
  const recompute = async () => {
    setRecomputing(true);
    try {
      const s = await post<Segment>(`/segments/${id}/recompute`);
      setSeg(s);
      message.success(t('segmentBuilder.recomputedPeople', { size: fmtInt(s.size) }));
    } catch (e) {
      setSaveErr(e);
    } finally {
      setRecomputing(false);
    }
  };
  const exportCSV = async () => {
    const res = await fetch(`/api/v1/segments/${id}/members?format=csv`, { headers: { Authorization: 'Bearer ' + getToken() } });
    const blob = await res.blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${id}.csv`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return { seg, loadErr, saving, saveErr, recomputing, save, recompute, exportCSV };
}
