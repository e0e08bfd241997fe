/** Interpretation: the worst predictions (topLosses) and where the model looks (explain, Grad-CAM). */
export { topLosses, type TopLoss, type TopLossesOptions } from './topLosses';
export { explain, type Explanation, type ExplainOptions } from './explain';
