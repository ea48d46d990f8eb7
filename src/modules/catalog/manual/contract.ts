import { humanTask, setupField, stageContract, type ModuleContract } from '../../contract.ts'

/** Execution by a person in the seller's own OMS or ad server. */
export const manualTraffickingContract: ModuleContract = {
  contractId: 'manual.trafficking',
  version: '1.0.0',
  moduleType: 'TRAFFICKING',
  provider: 'manual',
  displayName: 'Manual execution',
  description: 'An operator books each finalized line in the seller\'s own system and records the upstream order id.',
  constraints: ['The reservation stays HELD until the operator completes the booking work item.'],
  defaultModuleInstanceId: 'manual-execution',
  setupFields: [
    setupField({
      key: 'systemName',
      label: 'System name',
      description: 'The OMS or ad server the operator books in, shown on each work item.',
    }),
  ],
  stages: [
    stageContract({
      stage: 'EXECUTE_UPSTREAM_BOOKING',
      mode: 'HITL',
      description: 'Book the line in the upstream system and record its order id.',
      outputKeys: ['upstreamOrderId'],
      workItemKind: 'EXECUTE_UPSTREAM_BOOKING',
      taskContract: humanTask({
        taskId: 'execute-upstream-booking',
        workItemKind: 'EXECUTE_UPSTREAM_BOOKING',
        requiredInputKeys: ['mediaBuyId', 'availId', 'requestedImpressions'],
        requiredResultKeys: ['upstreamOrderId'],
        outputKeys: ['upstreamOrderId'],
        operatorAction: {
          label: 'Book upstream',
          instructions: 'Create the order in the upstream system, then complete the work item with its upstreamOrderId.',
        },
      }),
    }),
  ],
}
