/** WebRTC links a tab keeps open by default; algorithms that talk to everyone ask for more. */
export const DEFAULT_LINK_BUDGET = 12;
