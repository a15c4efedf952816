import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { App } from 'antd';
import type { FormInstance } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, ApiError, Campaign, ChannelSettings, get, Launched, Offer, post, Preview, Segment } from '../../api';
import { useName } from '../../i18n';
import { fmtInt, fmtTime } from '../../components/common';
import { campaignBody, formValues, FormValues, triggered } from './model';

// useCampaignChoices loads what a campaign is made of: the offers and
// segments to choose from and the channels configured on this server.
export function useCampaignChoices(setError: (e: unknown) => void) {
  const [offers, setOffers] = useState<Offer[]>([]);
  const [segments, setSegments] = useState<Segment[]>([]);
  const [chans, setChans] = useState<ChannelSettings | null>(null);
  useEffect(() => {
    get<{ items: Offer[] }>('/offers').then((r) => setOffers(r.items)).catch(setError);
    get<{ items: Segment[] }>('/segments').then((r) => setSegments(r.items)).catch(setError);
    get<ChannelSettings>('/settings/channels').then(setChans).catch(() => {});
  }, [setError]);
  return { offers, addOffer: (o: Offer) => setOffers((x) => [...x, o]), segments, chans };
}

// useCampaignEditor loads the campaign being edited (id; none for a new
// one) into the form and saves, previews and launches it. A campaign that
// is no longer a draft opens its results instead.
export function useCampaignEditor(id: string | undefined, form: FormInstance<FormValues>) {
  const { t } = useTranslation();
  const name = useName();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const [camp, setCamp] = useState<Campaign | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [previewing, setPreviewing] = useState(false);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [launching, setLaunching] = useState(false);

  useEffect(() => {
    if (!id) return;
    get<Campaign>('/campaigns/' + id).then((c) => {
      if (c.status !== 'draft') navigate(`/campaigns/${id}/results`, { replace: true });
      setCamp(c);
      form.setFieldsValue(formValues(c));
    }).catch(setError);
  }, [id, form, navigate]);

  // A refusal that names a field is shown at the field too.
  const refused = (e: unknown) => {
    setError(e);
    if (e instanceof ApiError && e.field) form.setFields([{ name: e.field as keyof FormValues, errors: [e.message] }]);
  };
  const save = async (): Promise<Campaign | null> => {
    const v = await form.validateFields();
    setSaving(true);
    setError(null);
    try {
      const saved = camp ? await api<Campaign>('PUT', '/campaigns/' + camp.id, campaignBody(v)) : await post<Campaign>('/campaigns', campaignBody(v));
      setCamp(saved);
      if (!id) navigate('/campaigns/' + saved.id, { replace: true });
      return saved;
    } catch (e) {
      refused(e);
      return null;
    } finally {
      setSaving(false);
    }
  };
  const doPreview = async () => {
    const saved = await save();
    if (!saved) return;
    setPreviewing(true);
    try {
      setPreview(await post<Preview>(`/campaigns/${saved.id}/preview`));
    } catch (e) {
      setError(e);
    } finally {
      setPreviewing(false);
    }
  };
  const launch = async () => {
    if (!camp) return;
    // The server plans and writes the whole plan to the send log before it
    // answers; the platform's campaign loop sends right after, and the
    // results page follows the sending.
    setLaunching(true);
    setError(null);
    try {
      const r = await post<Launched>(`/campaigns/${camp.id}/launch`);
      const c = r.campaign;
      if (c.status === 'scheduled') message.success(t('campaignEditor.scheduledSendingStarts', { start_at: fmtTime(c.start_at) }));
      else if (triggered(c.trigger)) message.success(t('campaignEditor.automationStarted', { trigger: name(c.trigger) }));
      else message.success(t('campaignEditor.launchedTreatmentHoldoutSending', { treatment: fmtInt(r.counts?.treatment), holdout: fmtInt(r.counts?.holdout) }));
      navigate(`/campaigns/${camp.id}/results`);
    } catch (e) {
      refused(e);
    } finally {
      setLaunching(false);
    }
  };
  // Any change makes the last preview stale.
  const stale = () => setPreview(null);
  return { camp, error, setError, saving, previewing, preview, launching, save, doPreview, launch, stale };
}
