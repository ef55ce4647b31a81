/** Colours for series that stand for layers (or layer groups): an ordered scale, early layers dark purple, late orange. */
import { colorScale } from '../plot/color-scale.js';

const LAYER_STOPS = ['#3f007d', '#2c7fb8', '#1b9e77', '#7fbc41', '#e6550d'];

/** The colour of series i of n (ordered by depth). */
export function layerColor(i: number, n: number): string {
  return colorScale(LAYER_STOPS, [0, Math.max(1, n - 1)]).hex(i);
}

/** Colours of the two kinds compared throughout the analysis. */
export const KIND_COLORS = { keys: '#d62728', values: '#1f77b4' } as const;

/** Distinct colours for tasks (Tableau 10 without the two kind colours). */
const TASK_COLORS = ['#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

export function taskColor(i: number): string {
  return TASK_COLORS[i % TASK_COLORS.length]!;
}

/**
 * Contiguous groups of layers for charts with many layers: each layer its own group up to `maxGroups`, otherwise
 * `maxGroups` groups as equal as integers allow.
 */
export function layerGroups(layers: number, maxGroups = 8): number[][] {
  if (layers <= maxGroups) return Array.from({ length: layers }, (_, l) => [l]);
  const groups: number[][] = [];
  for (let g = 0; g < maxGroups; g++) {
    const a = Math.floor((g * layers) / maxGroups);
    const b = Math.floor(((g + 1) * layers) / maxGroups);
    groups.push(Array.from({ length: b - a }, (_, i) => a + i));
  }
  return groups;
}

export function groupLabel(group: number[]): string {
  return group.length === 1 ? `layer ${group[0]}` : `layers ${group[0]}–${group[group.length - 1]}`;
}
