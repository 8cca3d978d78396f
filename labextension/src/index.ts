// nbmlops for JupyterLab: step badges on cells (from the compiled pipeline), the Pipeline side panel, and
// commands in the palette ("Pipeline: …"), the View menu, the cell toolbar and context menu; shortcuts and the
// View menu entry are declared in schema/plugin.json, so users can change them in the settings editor.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { currentRole } from './cellroles';
import { CompiledNotebook } from './compiled';
import { PipelinePanel } from './panel';
import { DRIVE, RunDrive } from './rundrive';
import { tagSelectedCells } from './tagdialog';

export const COMMANDS = {
  tag: 'nbmlops:tag-cells',
  panel: 'nbmlops:open-panel',
  run: 'nbmlops:run',
  stop: 'nbmlops:stop',
  compile: 'nbmlops:compile',
  runs: 'nbmlops:show-runs'
};
const CATEGORY = 'Pipeline (nbmlops)';

export const pipelineIcon = new LabIcon({
  name: 'nbmlops:pipeline',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">' +
    '<rect x="1" y="9" width="7" height="6" rx="1.5"/><rect x="16" y="3" width="7" height="6" rx="1.5"/>' +
    '<rect x="16" y="15" width="7" height="6" rx="1.5"/><path d="M8 11h3V6h5v2h-3v3h0v2h0v3h3v2h-5v-5H8z"/></g></svg>'
});

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbmlops:plugin',
  description: 'Tag cells as pipeline steps, see the DAG, run the pipeline and follow its runs.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    const drive = new RunDrive();
    app.serviceManager.contents.addDrive(drive);
    const panel = new PipelinePanel(app, drive);
    panel.title.icon = pipelineIcon;
    app.shell.add(panel, 'right', { rank: 600 });
    const compiled = new WeakMap<NotebookPanel, CompiledNotebook>();
    // a step notebook of a past run (read-only, from the run drive) is no pipeline of its own
    const isRunNotebook = (nb: NotebookPanel | null): boolean => !!nb && nb.context.path.startsWith(`${DRIVE}:`);
    const compiledOf = (nb: NotebookPanel | null): CompiledNotebook | null => {
      if (!nb || isRunNotebook(nb)) {
        return null;
      }
      let c = compiled.get(nb);
      if (!c) {
        c = new CompiledNotebook(nb);
        compiled.set(nb, c);
      }
      return c;
    };
    const hasNotebook = (): boolean => tracker.currentWidget !== null || panel.notebook !== null;
    const showPanel = (): void => {
      if (!isRunNotebook(tracker.currentWidget)) {
        panel.setNotebook(tracker.currentWidget, compiledOf(tracker.currentWidget));
      }
      app.shell.activateById(panel.id);
    };

    app.commands.addCommand(COMMANDS.tag, {
      label: args => (args.isPalette ? 'Pipeline: Tag the selected cells as a step…' : 'Pipeline step…'),
      caption: 'Set the pipeline step, after, setup/skip/parameters or step options of the selected cells',
      icon: args => (args.isPalette ? undefined : pipelineIcon),
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: hasNotebook,
      execute: async () => {
        const nb = tracker.currentWidget;
        if (nb) {
          const spec = compiledOf(nb)?.spec ?? null;
          const steps = [...new Set((spec?.steps ?? []).map(s => s.name))];
          await tagSelectedCells(nb.content, steps, index => currentRole(spec, index));
        }
      }
    });
    app.commands.addCommand(COMMANDS.panel, {
      label: args => (args.isPalette ? 'Pipeline: Show the Pipeline panel' : 'Pipeline Panel'),
      caption: 'The DAG, run form, runs, models, features and schedules of the current notebook',
      describedBy: { args: { type: 'object', properties: {} } },
      execute: showPanel
    });
    app.commands.addCommand(COMMANDS.run, {
      label: 'Pipeline: Run the pipeline',
      caption: 'Run the current notebook as a pipeline with the Pipeline panel’s parameters and backend',
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: hasNotebook,
      execute: async () => {
        showPanel();
        await compiledOf(tracker.currentWidget)?.compile();
        await panel.start();
      }
    });
    app.commands.addCommand(COMMANDS.stop, {
      label: 'Pipeline: Stop the running pipeline',
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: hasNotebook,
      execute: () => panel.stop()
    });
    app.commands.addCommand(COMMANDS.compile, {
      label: 'Pipeline: Compile to pipeline.json',
      caption: 'Write NOTEBOOK.pipeline.json next to the notebook',
      describedBy: { args: { type: 'object', properties: { target: { type: 'string' } } } },
      isEnabled: hasNotebook,
      execute: async args => {
        showPanel();
        const message = await panel.exportTo((args.target as string) ?? 'json');
        app.commands.notifyCommandChanged(COMMANDS.compile);
        return message;
      }
    });
    app.commands.addCommand(COMMANDS.runs, {
      label: 'Pipeline: Show the runs of this notebook',
      describedBy: { args: { type: 'object', properties: {} } },
      isEnabled: hasNotebook,
      execute: () => {
        showPanel();
        panel.showTab('runs');
      }
    });
    if (palette) {
      for (const command of Object.values(COMMANDS)) {
        palette.addItem({ command, category: CATEGORY, args: { isPalette: true } });
      }
    }
    app.contextMenu.addItem({ command: COMMANDS.tag, selector: '.jp-Notebook .jp-Cell', rank: 20 });

    tracker.widgetAdded.connect((_, nb) => {
      const button = new ToolbarButton({
        icon: pipelineIcon,
        label: 'Step',
        tooltip: 'Pipeline step of the selected cells',
        className: 'nbmlops-tag-button',
        onClick: () => void app.commands.execute(COMMANDS.tag)
      });
      nb.toolbar.insertItem(10, 'nbmlops-step', button);
      compiledOf(nb); // badges from the first compile on, panel open or not
    });
    tracker.currentChanged.connect((_, nb) => {
      if (!isRunNotebook(nb)) {
        panel.setNotebook(nb, compiledOf(nb));
      }
    });
    panel.setNotebook(tracker.currentWidget, compiledOf(tracker.currentWidget));
  }
};

export default plugin;
