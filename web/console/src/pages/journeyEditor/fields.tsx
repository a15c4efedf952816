import { ReactNode } from 'react';
import { Form, Select } from 'antd';
import type { Offer, Segment } from '../../api';

// Small shared pieces of the inspector forms.

// Row is one labelled field of an inspector.
export function Row({ label, children, hint }: { label: ReactNode; children: ReactNode; hint?: ReactNode }) {
  return <Form.Item label={label} help={hint} style={{ marginBottom: 12 }}>{children}</Form.Item>;
}

// OfferSelect picks an offer by name.
export function OfferSelect({ offers, value, onChange, testid }: { offers: Offer[]; value?: string; onChange: (v: string) => void; testid: string }) {
  return (
    <Select data-testid={testid} value={value || undefined} onChange={onChange} showSearch optionFilterProp="label"
      options={offers.map((o) => ({ value: o.id, label: o.name }))} />
  );
}

// SegmentSelect picks a segment by name.
export function SegmentSelect({ segments, value, onChange }: { segments: Segment[]; value?: string; onChange: (v: string) => void }) {
  return (
    <Select data-testid="entry-segment" value={value || undefined} onChange={onChange} showSearch optionFilterProp="label" allowClear
      options={segments.map((s) => ({ value: s.id, label: s.name }))} />
  );
}

// TagsInput edits a list of strings (categories, SKUs) as tags.
export function TagsInput({ value, onChange, testid }: { value?: string[]; onChange: (v: string[]) => void; testid?: string }) {
  return <Select data-testid={testid} mode="tags" value={value ?? []} onChange={onChange} open={false} suffixIcon={null} />;
}
