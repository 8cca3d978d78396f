// A badge on every code cell saying what the compiled pipeline made of it (cellroles.ts): its step (coloured
// per step), setup, parameters, skip, or "not in pipeline".
import { NotebookPanel } from '@jupyterlab/notebook';

import { badgesFromSpec, ISpecLike } from './cellroles';
import { ICellInfo, stepColor } from './tags';

export function cellInfos(panel: NotebookPanel): ICellInfo[] {
  return panel.content.widgets.map(cell => ({
    type: cell.model.type,
    tags: (cell.model.getMetadata('tags') as string[] | undefined) ?? [],
    source: cell.model.sharedModel.getSource()
  }));
}

export function renderBadges(panel: NotebookPanel, spec: ISpecLike | null): void {
  const found = badgesFromSpec(cellInfos(panel), spec);
  panel.content.widgets.forEach((cell, i) => {
    const badge = found[i];
    let node = cell.node.querySelector(':scope > .nbmlops-badge') as HTMLElement | null;
    if (!badge) {
      node?.remove();
      cell.removeClass('nbmlops-has-badge');
      return;
    }
    if (!node) {
      node = document.createElement('span');
      node.className = 'nbmlops-badge';
      cell.node.appendChild(node);
      cell.addClass('nbmlops-has-badge');
    }
    node.textContent = badge.kind === 'continue' ? `${badge.label} ⋯` : badge.label;
    node.dataset.kind = badge.kind;
    node.dataset.step = badge.step ?? '';
    node.title = badge.title;
    node.style.background = badge.step ? stepColor(badge.step) : '';
  });
}
