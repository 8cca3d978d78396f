// A badge on every code cell with its step (coloured per step), or setup / skip / parameters.
import { NotebookPanel } from '@jupyterlab/notebook';

import { badges, ICellInfo, stepColor } from './tags';

export function cellInfos(panel: NotebookPanel): ICellInfo[] {
  return panel.content.widgets.map(cell => ({
    type: cell.model.type,
    tags: (cell.model.getMetadata('tags') as string[] | undefined) ?? [],
    source: cell.model.sharedModel.getSource()
  }));
}

export function renderBadges(panel: NotebookPanel): void {
  const found = badges(cellInfos(panel));
  panel.content.widgets.forEach((cell, i) => {
    const badge = found[i];
    let node = cell.node.querySelector(':scope > .nbmlops-badge') as HTMLElement | null;
    if (!badge) {
      node?.remove();
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
    node.title =
      badge.kind === 'continue' ? `continues step ${badge.label}` : badge.step ? `step ${badge.label}` : badge.label;
    node.style.background = badge.step ? stepColor(badge.step) : '';
  });
}
