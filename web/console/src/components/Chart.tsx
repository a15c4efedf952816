import { useEffect, useRef } from 'react';
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart, CustomChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent, TitleComponent, MarkAreaComponent, MarkLineComponent, DatasetComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

// Only the chart types the console draws are bundled (tree-shaken ECharts).
echarts.use([BarChart, LineChart, PieChart, CustomChart, GridComponent, LegendComponent, TooltipComponent, TitleComponent, MarkAreaComponent, MarkLineComponent, DatasetComponent, CanvasRenderer]);

export const palette = ['#1677ff', '#52c41a', '#faad14', '#13c2c2', '#eb2f96', '#722ed1', '#fa541c', '#2f54eb', '#a0d911', '#8c8c8c'];

// Chart renders an ECharts option and follows its container's size;
// onClick, when given, takes the clicked item's event parameters.
export default function Chart({ option, height = 300, testId, onClick }: { option: any; height?: number; testId?: string; onClick?: (params: any) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  const click = useRef(onClick);
  click.current = onClick;
  useEffect(() => {
    if (!ref.current) return;
    chart.current = echarts.init(ref.current, undefined, { renderer: 'canvas' });
    chart.current.on('click', (p) => click.current?.(p));
    const ro = new ResizeObserver(() => chart.current?.resize());
    ro.observe(ref.current);
    return () => {
      ro.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setOption({ color: palette, textStyle: { fontFamily: 'inherit' }, ...option }, true);
  }, [option]);
  return <div ref={ref} style={{ width: '100%', height }} data-testid={testId} />;
}
