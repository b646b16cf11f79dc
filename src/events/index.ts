export { coalesce, eventsChannel, parseChange, wideTopics } from './change.ts';
export { EventHub, type EventHubOptions, type EventSink, type Subscriber } from './hub.ts';
export { sse } from './sse.ts';
export { EventStream, type EventStreamOptions } from './stream.ts';
export {
  eventOps,
  eventTopics,
  isEventTopic,
  streamEvents,
  type ChangeEvent,
  type EventOp,
  type EventTopic,
  type StreamEvent,
} from './topics.ts';
export { canSee, endsStream, tenantAdminTopics } from './visibility.ts';
