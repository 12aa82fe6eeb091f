//! A queue that a consumer's partitions deliver their messages to, taken from many at a time.
//!
//! rdkafka's `BaseConsumer::poll` hands over one message per call, and each call costs two
//! clock reads, a queue lock, an event wrapper and an `Arc`: on the reference workload the
//! poll threads were a quarter of the consumer's CPU. librdkafka can hand over a whole batch per call
//! (`rd_kafka_consume_batch_queue`), but not from the consumer's own queue: that queue also
//! carries the group's rebalance events, and a batch call would serve those itself, without
//! the application's rebalance handler, on which the exactly-once protocol rests. So every
//! partition is routed, before it is assigned, to a queue of its own that only ever holds
//! messages, and the consumer queue keeps the events.
//!
//! Routing before the assignment matters: a partition's messages must all arrive on one
//! queue, or they could be taken out of order. librdkafka keeps a route the application set
//! when it starts fetching, but drops it when it stops (on revocation), so a partition is
//! routed again before (and after) every assignment, and [`FetchRoute::route`] may be
//! repeated at any time.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::dsl::Header;

/// Messages taken per call at most.
const MAX_BATCH: usize = 1024;

/// The queue, borrowing the consumer it belongs to: librdkafka requires an application's
/// queues to be destroyed before their client, and the borrow makes the compiler check it.
pub(crate) struct FetchQueue<'consumer> {
    queue: NonNull<rd::rd_kafka_queue_t>,
    client: NonNull<rd::rd_kafka_t>,
    batch: Vec<*mut rd::rd_kafka_message_t>,
    consumer: PhantomData<&'consumer ()>,
}

impl<'consumer> FetchQueue<'consumer> {
    pub fn new<C: ConsumerContext>(consumer: &'consumer BaseConsumer<C>) -> Option<Self> {
        let client = NonNull::new(consumer.client().native_ptr())?;
        // SAFETY: the client pointer is the consumer's live handle.
        let queue = unsafe { rd::rd_kafka_queue_new(client.as_ptr()) };
        Some(FetchQueue {
            queue: NonNull::new(queue)?,
            client,
            batch: Vec::with_capacity(MAX_BATCH),
            consumer: PhantomData,
        })
    }

    /// What the rebalance handler routes partitions with. Valid while this queue lives.
    pub fn route(&self) -> FetchRoute {
        FetchRoute {
            queue: self.queue,
            client: self.client,
        }
    }

    /// Hands over at most `limit` messages (in the order each partition produced them) and
    /// releases them; the number taken. If none is there, waits up to `timeout` for the
    /// first. librdkafka's own wait lasts until all `limit` have come, which would hold every
    /// slow trickle of messages for the whole `timeout`, so the wait is for one message only.
    pub fn take(
        &mut self,
        limit: usize,
        timeout: Duration,
        mut each: impl FnMut(&FetchedMessage),
    ) -> usize {
        let limit = limit.clamp(1, MAX_BATCH);
        let mut taken = self.take_now(limit, Duration::ZERO, &mut each);
        if taken == 0 && !timeout.is_zero() {
            taken = self.take_now(1, timeout, &mut each);
            if taken == 1 && limit > 1 {
                taken += self.take_now(limit - 1, Duration::ZERO, &mut each);
            }
        }
        taken
    }

    fn take_now(
        &mut self,
        limit: usize,
        timeout: Duration,
        each: &mut impl FnMut(&FetchedMessage),
    ) -> usize {
        let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let batch = Handed(&mut self.batch);
        // SAFETY: the queue is alive (it is destroyed only on drop) and the batch has room
        // for `limit` pointers (`limit` is at most its capacity); librdkafka writes `taken`.
        let taken = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout_ms,
                batch.0.as_mut_ptr(),
                limit.min(batch.0.capacity()),
            )
        };
        let taken = usize::try_from(taken).unwrap_or(0).min(limit);
        // SAFETY: librdkafka initialised the first `taken` entries.
        unsafe { batch.0.set_len(taken) };
        for &message in batch.0.iter() {
            // SAFETY: each pointer is a message librdkafka handed over and that is not yet
            // destroyed; the view does not outlive this iteration.
            if let Some(message) = unsafe { message.as_ref() } {
                each(&FetchedMessage { message });
            }
        }
        taken
    }
}

/// Messages handed over by librdkafka, released when this goes, also if `each` panics.
struct Handed<'a>(&'a mut Vec<*mut rd::rd_kafka_message_t>);

impl Drop for Handed<'_> {
    fn drop(&mut self) {
        for message in self.0.drain(..) {
            // SAFETY: handed over by librdkafka, released exactly once.
            unsafe { rd::rd_kafka_message_destroy(message) };
        }
    }
}

impl Drop for FetchQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: created by `rd_kafka_queue_new`, destroyed once, before its consumer (the
        // borrow). Messages still routed here afterwards are discarded by librdkafka.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) }
    }
}

/// Routes partitions to a [`FetchQueue`]; a plain handle, so that the rebalance handler can
/// hold it.
#[derive(Clone, Copy)]
pub(crate) struct FetchRoute {
    queue: NonNull<rd::rd_kafka_queue_t>,
    /// The client the queue belongs to: a route to another client's queue is refused.
    client: NonNull<rd::rd_kafka_t>,
}

// SAFETY: librdkafka queues and clients may be used from any thread; these are only pointers.
unsafe impl Send for FetchRoute {}

impl FetchRoute {
    /// Routes the partition's messages to the queue from now on. False if librdkafka has no
    /// such partition, or `consumer` is not the queue's (the messages then stay where they
    /// were going).
    ///
    /// # Safety
    /// The [`FetchQueue`] this route came from must still be alive.
    pub unsafe fn route<C: ConsumerContext>(
        self,
        consumer: &BaseConsumer<C>,
        topic: &str,
        partition: i32,
    ) -> bool {
        if consumer.client().native_ptr() != self.client.as_ptr() {
            return false;
        }
        // SAFETY: the destination is alive by this function's contract.
        unsafe { forward(consumer, topic, partition, self.queue.as_ptr()) }
    }
}

/// Stops routing the partition: its messages wait on its own queue, in order, which counts
/// against librdkafka's prefetch limits, so fetching pauses once they are full. Routed
/// partitions must be stopped so before their queue goes, or they would go on fetching into
/// it, and librdkafka discarding, at full speed until they are revoked. False if librdkafka
/// has no such partition.
pub(crate) fn stop_routing<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> bool {
    // SAFETY: forwarding to nothing needs no destination.
    unsafe { forward(consumer, topic, partition, std::ptr::null_mut()) }
}

/// Forwards the partition's queue to `destination` (null: to none).
///
/// # Safety
/// A non-null `destination` must be a live queue of the consumer's client.
unsafe fn forward<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    destination: *mut rd::rd_kafka_queue_t,
) -> bool {
    let Ok(topic) = CString::new(topic) else {
        return false;
    };
    // SAFETY: the client is the consumer's live handle; the partition handle is released at
    // once (it is not the owner of the partition's queue, so that only drops a reference);
    // the destination is the caller's to vouch for. librdkafka marks a queue the application
    // forwarded, so that starting to fetch does not forward it to the consumer queue again.
    unsafe {
        let partition_queue = rd::rd_kafka_queue_get_partition(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
        );
        if partition_queue.is_null() {
            return false;
        }
        rd::rd_kafka_queue_forward(partition_queue, destination);
        rd::rd_kafka_queue_destroy(partition_queue);
    }
    true
}

/// A message on loan from librdkafka, by either path: a [`FetchQueue`] or the consumer's poll.
/// (`rd_kafka_message_headers` caches the parsed headers in librdkafka's own struct around the
/// message, outside the bytes this reference covers.)
pub(crate) struct FetchedMessage<'a> {
    message: &'a rd::rd_kafka_message_t,
}

impl<'a> FetchedMessage<'a> {
    /// A message rdkafka's poll returned.
    pub fn of(message: &'a rdkafka::message::BorrowedMessage<'_>) -> Option<Self> {
        // SAFETY: the pointer is the borrowed message's, alive as long as the borrow.
        unsafe { message.ptr().as_ref() }.map(|message| FetchedMessage { message })
    }

    /// A message can stand for an error instead (a partition's fetch failed, for one).
    pub fn error(&self) -> Option<KafkaError> {
        (self.message.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            .then(|| KafkaError::MessageConsumption(RDKafkaErrorCode::from(self.message.err)))
    }

    pub fn topic(&self) -> &str {
        std::str::from_utf8(self.topic_bytes()).unwrap_or("")
    }

    /// The topic's name as librdkafka has it: cheaper to compare than [`Self::topic`].
    pub fn topic_bytes(&self) -> &[u8] {
        if self.message.rkt.is_null() {
            return b"";
        }
        // SAFETY: a message's topic handle lives as long as the message; librdkafka returns
        // its NUL-terminated name.
        unsafe { CStr::from_ptr(rd::rd_kafka_topic_name(self.message.rkt)) }.to_bytes()
    }

    pub fn partition(&self) -> i32 {
        self.message.partition
    }

    pub fn offset(&self) -> i64 {
        self.message.offset
    }

    pub fn payload(&self) -> Option<&'a [u8]> {
        // SAFETY: librdkafka's payload is `len` bytes, alive as long as the message.
        unsafe { bytes_at(self.message.payload, self.message.len) }
    }

    pub fn key(&self) -> Option<&'a [u8]> {
        // SAFETY: as for the payload.
        unsafe { bytes_at(self.message.key, self.message.key_len) }
    }

    /// Create or log-append time, in milliseconds since the epoch.
    pub fn timestamp_millis(&self) -> Option<i64> {
        let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: a live message; `kind` is written.
        let millis = unsafe { rd::rd_kafka_message_timestamp(self.message, &mut kind) };
        (kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && millis >= 0)
            .then_some(millis)
    }

    /// The headers, copied.
    pub fn headers(&self) -> Vec<Header> {
        let mut list = std::ptr::null_mut();
        // SAFETY: a live message; the list belongs to it and is read only while it lives.
        let found = unsafe { rd::rd_kafka_message_headers(self.message, &mut list) };
        if found != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || list.is_null() {
            return Vec::new();
        }
        let mut headers = Vec::new();
        for index in 0.. {
            let (mut name, mut value, mut size) = (std::ptr::null(), std::ptr::null(), 0);
            // SAFETY: `list` is the message's; librdkafka writes the outputs for an index it has.
            let got = unsafe {
                rd::rd_kafka_header_get_all(list, index, &mut name, &mut value, &mut size)
            };
            if got != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                break;
            }
            // SAFETY: a NUL-terminated name and a `size`-byte value (or null), both the list's.
            let key = unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned();
            let value = unsafe { bytes_at(value.cast_mut(), size) }.map(Bytes::copy_from_slice);
            headers.push(Header { key, value });
        }
        headers
    }
}

/// `len` bytes at `data`, or `None` for a null pointer.
///
/// # Safety
/// A non-null `data` must point to `len` readable bytes that outlive `'a`.
unsafe fn bytes_at<'a>(data: *mut std::ffi::c_void, len: usize) -> Option<&'a [u8]> {
    if data.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    Some(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::{EmbeddedBroker, flush, producer_config, send};
    use rdkafka::ClientConfig;
    use rdkafka::consumer::DefaultConsumerContext;
    use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord};
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    use std::time::Instant;

    const PER_PARTITION: i64 = 50;

    /// What the test saw of a message.
    struct Seen {
        partition: i32,
        offset: i64,
        payload: Vec<u8>,
        key: Vec<u8>,
        header_values: Vec<Option<Bytes>>,
        timestamp: Option<i64>,
    }

    /// Taken from the fetch queue until `expected` messages came or 20 s passed, routing
    /// again on every round as the source does every second.
    fn take_all(
        consumer: &BaseConsumer<DefaultConsumerContext>,
        fetches: &mut FetchQueue<'_>,
        expected: usize,
    ) -> Vec<Seen> {
        let mut taken = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while taken.len() < expected && Instant::now() < deadline {
            fetches.take(7, Duration::from_millis(100), |message| {
                assert!(message.error().is_none());
                assert_eq!(message.topic(), "t");
                taken.push(Seen {
                    partition: message.partition(),
                    offset: message.offset(),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    key: message.key().unwrap_or_default().to_vec(),
                    header_values: message.headers().into_iter().map(|h| h.value).collect(),
                    timestamp: message.timestamp_millis(),
                });
            });
            for partition in 0..2 {
                // SAFETY: `fetches` is alive.
                assert!(unsafe { fetches.route().route(consumer, "t", partition) });
            }
            assert!(
                consumer.poll(Duration::ZERO).is_none(),
                "no message comes by the consumer queue"
            );
        }
        taken
    }

    fn assign_from_the_start(consumer: &BaseConsumer<DefaultConsumerContext>) {
        let mut list = TopicPartitionList::new();
        for partition in 0..2 {
            list.add_partition_offset("t", partition, Offset::Beginning)
                .expect("offset");
        }
        consumer.assign(&list).expect("assign");
    }

    #[test]
    fn routed_partitions_deliver_everything_in_order_through_the_queue() {
        let broker = EmbeddedBroker::start(1).expect("broker");
        broker.create_topic("t", 2).expect("topic");
        let producer: BaseProducer = producer_config(broker.bootstrap_servers())
            .create()
            .expect("producer");
        for offset in 0..PER_PARTITION {
            for partition in 0..2 {
                let payload = format!("{{\"p\":{partition},\"n\":{offset}}}");
                let headers = OwnedHeaders::new().insert(KafkaHeader {
                    key: "n",
                    value: Some(&offset.to_string()),
                });
                let record = BaseRecord::to("t")
                    .partition(partition)
                    .key("k")
                    .payload(payload.as_str())
                    .headers(headers)
                    .timestamp(1_700_000_000_000 + offset);
                send(&producer, record).expect("send");
            }
        }
        flush(&producer).expect("flush");

        let consumer: BaseConsumer<DefaultConsumerContext> = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap_servers())
            .set("group.id", "fetch-queue-test")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut fetches = FetchQueue::new(&consumer).expect("queue");
        let expected = 2 * PER_PARTITION as usize;
        let check = |taken: &[Seen]| {
            assert_eq!(
                taken.len(),
                expected,
                "every message came through the queue"
            );
            for partition in 0..2 {
                let offsets: Vec<i64> = taken
                    .iter()
                    .filter(|m| m.partition == partition)
                    .map(|m| m.offset)
                    .collect();
                assert_eq!(offsets, (0..PER_PARTITION).collect::<Vec<_>>(), "in order");
            }
            for seen in taken {
                let (partition, offset) = (seen.partition, seen.offset);
                let expected = format!("{{\"p\":{partition},\"n\":{offset}}}");
                assert_eq!(seen.payload, expected.as_bytes());
                assert_eq!(seen.key, b"k");
                assert_eq!(seen.header_values, [Some(Bytes::from(offset.to_string()))]);
                assert_eq!(seen.timestamp, Some(1_700_000_000_000 + offset));
            }
        };

        // Routed before the assignment starts the fetching, as the rebalance handler does.
        for partition in 0..2 {
            // SAFETY: `fetches` is alive.
            assert!(unsafe { fetches.route().route(&consumer, "t", partition) });
        }
        assign_from_the_start(&consumer);
        // Fewer messages than asked for are handed over once they are there, not after the
        // whole wait (librdkafka's own call waits for all of them).
        let mut first = Vec::new();
        let started = Instant::now();
        fetches.take(1024, Duration::from_secs(20), |m| first.push(m.offset()));
        assert!(
            !first.is_empty() && started.elapsed() < Duration::from_secs(20),
            "{} messages after {:?}",
            first.len(),
            started.elapsed()
        );
        consumer.unassign().expect("unassign");
        for partition in 0..2 {
            // SAFETY: `fetches` is alive.
            assert!(unsafe { fetches.route().route(&consumer, "t", partition) });
        }
        assign_from_the_start(&consumer);
        check(&take_all(&consumer, &mut fetches, expected));

        // Given up and taken again at once: librdkafka drops the route when the fetching
        // stops, possibly after it was set again; routing again recovers it, in order.
        consumer.unassign().expect("unassign");
        for partition in 0..2 {
            // SAFETY: `fetches` is alive.
            assert!(unsafe { fetches.route().route(&consumer, "t", partition) });
        }
        assign_from_the_start(&consumer);
        check(&take_all(&consumer, &mut fetches, expected));

        // Routing stopped: the messages wait, on neither queue, until routed again.
        for partition in 0..2 {
            assert!(stop_routing(&consumer, "t", partition));
        }
        consumer.unassign().expect("unassign");
        assign_from_the_start(&consumer);
        let waited_until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < waited_until {
            let taken = fetches.take(64, Duration::from_millis(100), |_| {});
            assert_eq!(taken, 0, "nothing comes through the queue");
            assert!(
                consumer.poll(Duration::ZERO).is_none(),
                "nor the consumer queue"
            );
        }
        check(&take_all(&consumer, &mut fetches, expected));
        drop(fetches);
    }

    #[test]
    fn a_route_to_another_consumers_queue_is_refused() {
        let broker = EmbeddedBroker::start(1).expect("broker");
        broker.create_topic("t", 1).expect("topic");
        let consumer = |group: &str| -> BaseConsumer<DefaultConsumerContext> {
            ClientConfig::new()
                .set("bootstrap.servers", broker.bootstrap_servers())
                .set("group.id", group)
                .create()
                .expect("consumer")
        };
        let (one, other) = (consumer("one"), consumer("other"));
        let fetches = FetchQueue::new(&one).expect("queue");
        // SAFETY: `fetches` is alive.
        assert!(!unsafe { fetches.route().route(&other, "t", 0) });
        assert!(unsafe { fetches.route().route(&one, "t", 0) });
    }
}
