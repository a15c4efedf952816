import { useMemo } from 'react';
import { Alert, Button, Card, Col, Form, Input, Row, Switch, Tabs, Typography } from 'antd';
import type { FormInstance } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Segment } from '../../api';
import RuleEditor, { RuleProblem } from '../../components/RuleEditor';
import VisualBuilder from '../../components/VisualBuilder';
import { ErrorAlert } from '../../components/common';
import { generate, parse } from '../../rule';
import type { SegmentFields } from './hooks';

// DetailsCard: the segment's name, whether it is live, its description.
export function DetailsCard({ form, canEdit, saveErr }: { form: FormInstance<SegmentFields>; canEdit: boolean; saveErr: unknown }) {
  const { t } = useTranslation();
  return (
    <Card bordered={false} style={{ marginBottom: 16 }}>
      <Form form={form} layout="vertical" initialValues={{ live: true }} disabled={!canEdit}>
        <Row gutter={16}>
          <Col span={14}>
            <Form.Item name="name" label={t('common.name')} rules={[{ required: true, message: t('segmentBuilder.nameRequired') }, { max: 100 }]}>
              <Input placeholder={t('segmentBuilder.eGHighPotential')} data-testid="segment-name" />
            </Form.Item>
          </Col>
          <Col span={10}>
            <Form.Item name="live" label={t('segmentBuilder.live')} valuePropName="checked" tooltip={t('segmentBuilder.membersFollowArrivingRecords')}>
              <Switch />
            </Form.Item>
          </Col>
        </Row>
        <Form.Item name="description" label={t('segmentBuilder.description')} style={{ marginBottom: 0 }}>
          <Input.TextArea autoSize={{ minRows: 1, maxRows: 3 }} placeholder={t('segmentBuilder.whatAudienceMeansColleagues')} />
        </Form.Item>
      </Form>
      {saveErr ? <ErrorAlert error={saveErr} style={{ marginTop: 16 }} /> : null}
    </Card>
  );
}

export type Mode = 'visual' | 'text';

// RuleCard edits the rule in the visual builder (when the rule has its
// shape) or as text, with the problem the server found.
export function RuleCard({ rule, setRule, mode, setMode, problem, segments, canEdit }: {
  rule: string; setRule: (r: string) => void; mode: Mode; setMode: (m: Mode) => void; problem: RuleProblem | null; segments: Segment[]; canEdit: boolean;
}) {
  const { t } = useTranslation();
  const groups = useMemo(() => parse(rule), [rule]);
  return (
    <Card bordered={false} bodyStyle={{ paddingTop: 8 }}>
      <Tabs activeKey={mode} onChange={(k) => setMode(k as Mode)} items={[
        { key: 'visual', label: <span data-testid="tab-visual">{t('segmentBuilder.visualBuilder')}</span>, children: groups ? (
          <VisualBuilder groups={groups} onChange={(g) => setRule(generate(g))} segments={segments} disabled={!canEdit} />
        ) : (
          <Alert type="info" showIcon message={t('segmentBuilder.ruleUsesSyntaxVisual')} />
        ) },
        { key: 'text', label: <span data-testid="tab-text">{t('segmentBuilder.ruleText')}</span>, children: (
          <>
            <RuleEditor value={rule} onChange={setRule} problem={problem} readOnly={!canEdit} />
            <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0, fontSize: 12 }}>
              {t('segmentBuilder.functionsDidNeverBought')}
            </Typography.Paragraph>
          </>
        ) },
      ]} />
      {mode === 'visual' && problem && (
        <Alert type="error" showIcon style={{ marginTop: 12 }} message={`${t('segmentBuilder.ruleProblem')} (${problem.line}:${problem.column})：${problem.message}`}
          action={<Button size="small" onClick={() => setMode('text')}>{t('segmentBuilder.showRuleText')}</Button>} />
      )}
      {mode === 'visual' && rule && (
        <Typography.Paragraph code copyable style={{ marginTop: 12, marginBottom: 0, fontSize: 12 }} data-testid="rule-preview">{rule}</Typography.Paragraph>
      )}
    </Card>
  );
}
