import { humanTask, setupField, stageContract, type ModuleContract } from '../../contract.ts'
import { cadentAdClasses, cadentAdTypes, cadentDeliveryTypes } from './render-campaign-xml.ts'

/** Closed sets of the Cadent campaign XML: the renderer's, which test/cadent-xml.test.ts checks against the XSD. */
export const CADENT_DELIVERY_TYPES = cadentDeliveryTypes
export const CADENT_AD_TYPES = cadentAdTypes
export const CADENT_AD_CLASSES = cadentAdClasses

// Every stage runs on a finalized booking, which needs the module ACTIVE: all need the XML fields.
const xmlStages = ['RENDER_TRAFFICKING_PAYLOAD', 'TRAFFIC_CAMPAIGN', 'MAP_CREATIVES'] as const

/** Addressable-TV trafficking in Cadent: the campaign XML is rendered, then trafficked by API or by hand. */
export const cadentTraffickingContract: ModuleContract = {
  contractId: 'cadent.trafficking',
  version: '1.0.0',
  moduleType: 'TRAFFICKING',
  provider: 'cadent',
  displayName: 'Cadent trafficking',
  description: 'Renders the Cadent campaign XML for each finalized booking and traffics it, by API when an endpoint is configured, otherwise through an operator.',
  constraints: [
    'A reservation is BOOKED only after trafficking succeeds (API 2xx or the TRAFFIC_TO_CADENT item completed).',
    'Products show Cadent fields only while this module is ACTIVE.',
  ],
  defaultModuleInstanceId: 'cadent-trafficking',
  setupFields: [
    setupField({
      key: 'campaignDeliveryType',
      label: 'Campaign delivery type',
      description: 'Whether the campaign is guaranteed.',
      required: true,
      requiredFor: [...xmlStages],
      mapsTo: 'CadentCampaign/Campaign/DeliveryType',
      enumValues: [...CADENT_DELIVERY_TYPES],
    }),
    setupField({
      key: 'lineDeliveryType',
      label: 'Line delivery type',
      description: 'Whether each line is guaranteed.',
      required: true,
      requiredFor: [...xmlStages],
      mapsTo: 'CadentCampaign/Campaign/Line/DeliveryType',
      enumValues: [...CADENT_DELIVERY_TYPES],
    }),
    setupField({
      key: 'adType',
      label: 'Ad type',
      description: 'The kind of spot each line carries.',
      required: true,
      requiredFor: [...xmlStages],
      mapsTo: 'CadentCampaign/Campaign/Line/AdType',
      enumValues: [...CADENT_AD_TYPES],
    }),
    setupField({
      key: 'adClass',
      label: 'Ad class',
      description: 'The commercial class of each line.',
      required: true,
      requiredFor: [...xmlStages],
      mapsTo: 'CadentCampaign/Campaign/Line/AdClass',
      enumValues: [...CADENT_AD_CLASSES],
    }),
    setupField({
      key: 'cadentEndpointUrl',
      label: 'Cadent endpoint URL',
      description: 'When set, campaign XML is POSTed here and a 2xx books the line; otherwise an operator traffics it.',
      mapsTo: 'HTTP POST target',
      valueType: 'URL',
    }),
    setupField({
      key: 'targeting',
      label: 'Line targets',
      description: 'Each avail\'s targeting becomes the line\'s Target type/Value lists.',
      source: 'INVENTORY_FEED',
      mapsTo: 'CadentCampaign/Campaign/Line/Targets',
      valueType: 'OBJECT',
    }),
  ],
  stages: [
    stageContract({
      stage: 'RENDER_TRAFFICKING_PAYLOAD',
      mode: 'AUTOMATED',
      description: 'Render the Cadent campaign XML (schema version 1) for the finalized booking.',
      outputKeys: ['cadentCampaignXml'],
    }),
    stageContract({
      stage: 'TRAFFIC_CAMPAIGN',
      mode: 'HITL',
      modeWhen: [{ configKey: 'cadentEndpointUrl', mode: 'AUTOMATED' }],
      description: 'Traffic the campaign in Cadent: POST to cadentEndpointUrl when set, else an operator enters it.',
      outputKeys: ['cadentCampaignId'],
      workItemKind: 'TRAFFIC_TO_CADENT',
      taskContract: humanTask({
        taskId: 'traffic-to-cadent',
        workItemKind: 'TRAFFIC_TO_CADENT',
        fallbackWorkItemKind: 'TRAFFIC_TO_CADENT',
        requiredInputKeys: ['cadentCampaignXml'],
        requiredResultKeys: ['cadentCampaignId'],
        outputKeys: ['cadentCampaignId'],
        operatorAction: {
          label: 'Traffic in Cadent',
          instructions: 'Load the campaign XML from the work item payload into Cadent, then complete the item with the cadentCampaignId.',
        },
      }),
    }),
    stageContract({
      stage: 'MAP_CREATIVES',
      mode: 'HITL',
      description: 'Map the buyer creative to a Cadent creative reference.',
      outputKeys: ['creativeRef'],
      workItemKind: 'MAP_CREATIVE_REF',
      taskContract: humanTask({
        taskId: 'map-creative-ref',
        workItemKind: 'MAP_CREATIVE_REF',
        requiredInputKeys: ['creative'],
        requiredResultKeys: ['creativeRef'],
        outputKeys: ['creativeRef'],
        blocksStage: false,
        operatorAction: {
          label: 'Map creative',
          instructions: 'Register the creative in Cadent and complete the item with its creativeRef.',
        },
      }),
    }),
  ],
}
