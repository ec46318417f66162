export { checkNodes, type NodeMonitorInput, type NodeMonitorDecision } from './monitor.js';
