// nbmlops for JupyterLab: step badges on cells, a "Pipeline step…" command (cell toolbar, notebook toolbar,
// context menu) writing the grammar's tags, and the Pipeline side panel.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ToolbarButton } from '@jupyterlab/apputils';
import { ICellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { renderBadges } from './badges';
import { PipelinePanel } from './panel';
import { tagSelectedCells } from './tagdialog';

const TAG_COMMAND = 'nbmlops:tag-cells';
const PANEL_COMMAND = 'nbmlops:open-panel';

export const pipelineIcon = new LabIcon({
  name: 'nbmlops:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="1" y="9" width="7" height="6" rx="1.5"/><rect x="16" y="3" width="7" height="6" rx="1.5"/>' +
    '<rect x="16" y="15" width="7" height="6" rx="1.5"/><path d="M8 11h3V6h5v2h-3v3h0v2h0v3h3v2h-5v-5H8z"/></g></svg>'
});

function debounce(fn: () => void, ms: number): () => void {
  let t = 0;
  return () => {
    window.clearTimeout(t);
    t = window.setTimeout(fn, ms);
  };
}

/** Cell models whose metadata changes are already followed (a cell is hooked once, however often cells change). */
const hooked = new WeakSet<ICellModel>();

/** Badges and the panel follow every change of the notebook: tags, sources, cells added or moved. */
function watch(nb: NotebookPanel, panel: PipelinePanel): void {
  const badgesSoon = debounce(() => renderBadges(nb), 150);
  const specSoon = debounce(() => panel.notebook === nb && void panel.refresh(), 800);
  const changed = (): void => {
    badgesSoon();
    specSoon();
  };
  void nb.context.ready.then(() => {
    const model = nb.content.model!;
    model.contentChanged.connect(changed);
    // metadata (tags) changes of any cell, including cells added later
    const hook = (): void => {
      for (const cell of nb.content.widgets) {
        if (!hooked.has(cell.model)) {
          hooked.add(cell.model);
          cell.model.metadataChanged.connect(changed);
        }
      }
      changed();
    };
    model.cells.changed.connect(hook);
    hook();
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbmlops:plugin',
  description: 'Tag cells as pipeline steps, see the DAG, run the pipeline and follow its runs.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const panel = new PipelinePanel(app);
    panel.title.icon = pipelineIcon;
    app.shell.add(panel, 'right', { rank: 600 });

    app.commands.addCommand(TAG_COMMAND, {
      label: 'Pipeline step…',
      caption: 'Set the pipeline step, after, setup/skip/parameters or step options of the selected cells',
      icon: pipelineIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: () => tracker.currentWidget !== null,
      execute: async () => {
        const nb = tracker.currentWidget;
        if (nb) {
          await tagSelectedCells(nb.content, panel.notebook === nb ? panel.stepNames() : []);
        }
      }
    });
    app.commands.addCommand(PANEL_COMMAND, {
      label: 'Show Pipeline panel',
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => app.shell.activateById(panel.id)
    });
    app.contextMenu.addItem({ command: TAG_COMMAND, selector: '.jp-Notebook .jp-Cell', rank: 20 });

    tracker.widgetAdded.connect((_, nb) => {
      const button = new ToolbarButton({
        icon: pipelineIcon,
        label: 'Step',
        tooltip: 'Pipeline step of the selected cells',
        className: 'nbmlops-tag-button',
        onClick: () => void app.commands.execute(TAG_COMMAND)
      });
      nb.toolbar.insertItem(10, 'nbmlops-step', button);
      watch(nb, panel);
    });
    tracker.currentChanged.connect((_, nb) => panel.setNotebook(nb));
    panel.setNotebook(tracker.currentWidget);
  }
};

export default plugin;
