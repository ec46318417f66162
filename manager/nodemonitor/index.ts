export { checkNodes, nodeDownGraceMs, type NodeMonitorInput, type NodeMonitorDecision } from './monitor.js';
