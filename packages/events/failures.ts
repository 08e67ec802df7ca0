import { isPassingFailure } from '@mindweave/errors';

// Why a handler failed decides what happens to the event: a failure that passes (a dependency
// down, slow or overloaded: isPassingFailure) keeps it for later however often it recurs, within a
// bound; any other counts towards dead-lettering it as poison.

/** How many times more deliveries a passing failure is allowed than a poison one: an outage of about an hour at the default reclaim interval. */
const passingFailureAllowance = 20;

/** How many failures like `error` an event may have before it is dead-lettered. */
export const deliveryLimit = (error: unknown, maxDeliveries: number) =>
  isPassingFailure(error) ? maxDeliveries * passingFailureAllowance : maxDeliveries;
