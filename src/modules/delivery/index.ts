// The public surface of delivery/: other folders import it from here, never from its files (eslint.config.js).
export { DeliverySchema, lineFlight, readDelivery, replaceDelivery, type Delivery } from './delivery-store.ts'
export { flightDays, parseDeliveryReport } from './parse-report.ts'
export { addSimulatedDelivery, listBuyDelivery, sumSpendByReservation, type PackageDeliveryRow } from './delivery-store.ts'
