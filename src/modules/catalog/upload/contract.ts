import { humanTask, stageContract, type ModuleContract } from '../../contract.ts'

/** Final delivery reports arrive as operator uploads after the flight ends. */
export const uploadReportingContract: ModuleContract = {
  contractId: 'upload.reporting-import',
  version: '1.0.0',
  moduleType: 'REPORTING_IMPORT',
  provider: 'upload',
  displayName: 'Final report upload',
  description: 'An operator uploads the final delivery report of each booked line; it is imported as delivery for the media buy.',
  constraints: ['The report is CSV text or rows of date, impressions, spend?, clicks?, completedViews?.'],
  defaultModuleInstanceId: 'report-upload',
  setupFields: [],
  stages: [
    stageContract({
      stage: 'IMPORT_FINAL_REPORT',
      mode: 'HITL',
      description: 'Import the final delivery report once the flight has ended.',
      outputKeys: ['delivery'],
      workItemKind: 'UPLOAD_FINAL_REPORT',
      runtimeInputs: ['FINAL_REPORTS'],
      taskContract: humanTask({
        taskId: 'upload-final-report',
        workItemKind: 'UPLOAD_FINAL_REPORT',
        requiredInputKeys: ['mediaBuyId'],
        requiredResultKeys: ['report'],
        outputKeys: ['delivery'],
        operatorAction: {
          label: 'Upload final report',
          instructions: 'Export the delivery report from the serving system and complete the work item with it as result.report.',
        },
      }),
    }),
  ],
}
