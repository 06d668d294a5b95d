//! The acceptance points of "The Netwrix side", checked through the real client:
//! the documentation's two write examples come back from enum field for field, and
//! paging with marks resumes exactly where it left off.

use netwrix::client::{Client, ClientConfig, Credentials};
use netwrix::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use netwrix::{ActivityRecord, Format, Page};

async fn serve(emulator: &Emulator) -> RunningEmulator {
    emulator.serve("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn client(running: &RunningEmulator, format: Format, count: Option<usize>) -> Client {
    let mut config = ClientConfig::new(&running.base_url);
    config.format = format;
    config.count = count;
    config.credentials = Some(Credentials::new("CORP\\reviewer", "pw"));
    Client::new(config).unwrap()
}

/// Every page from the start (or from `mark`) to the first empty one.
async fn pages(client: &Client, mark: Option<String>) -> (Vec<Page>, String) {
    let mut pages = Vec::new();
    let mut page = match &mark {
        None => client.first_page().await.unwrap(),
        Some(m) => client.next_page(m).await.unwrap(),
    };
    loop {
        let mark = page.mark.clone().expect("every page carries a mark");
        let empty = page.records.is_empty();
        pages.push(page);
        if empty {
            return (pages, mark);
        }
        page = client.next_page(&mark).await.unwrap();
    }
}

/// What the write endpoint does to a record, per the spec (§2): the server assigns
/// RID, sets DataSource to "Netwrix API", gives the plan an ID, stores When in UTC.
fn as_stored(mut written: ActivityRecord, read: &ActivityRecord) -> ActivityRecord {
    written.rid = read.rid.clone();
    written.data_source = Some("Netwrix API".into());
    if let (Some(plan), Some(read_plan)) = (written.monitoring_plan.as_mut(), read.monitoring_plan.as_ref()) {
        plan.id = read_plan.id.clone();
    }
    if written.when == "2017-02-19T03:43:49-11:00" {
        written.when = "2017-02-19T14:43:49Z".into();
    }
    written
}

#[tokio::test]
async fn documented_write_examples_come_back_field_for_field_through_the_client() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let json = std::fs::read(fixtures.join("write_example.json")).unwrap();
    let xml = std::fs::read(fixtures.join("write_example.xml")).unwrap();
    let from_json = Format::Json.decode_records(&json).unwrap();
    let from_xml = Format::Xml.decode_records(&xml).unwrap();
    assert_eq!(from_json.len(), 2);
    assert_eq!(from_json, from_xml, "the JSON and XML examples hold the same two records");

    for format in [Format::Xml, Format::Json] {
        let emulator = Emulator::new(EmulatorConfig::default());
        let running = serve(&emulator).await;
        // POST the documentation's bodies as they are, the way its curl examples do.
        let (body, query) = match format {
            Format::Xml => (xml.clone(), ""),
            Format::Json => (json.clone(), "?format=json"),
        };
        let response = crate::common::http_builder()
            .build()
            .unwrap()
            .post(format!("{}/netwrix/api/v1/activity_records/{query}", running.base_url))
            .header("Content-Type", format.content_type())
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        let (pages, _) = pages(&client(&running, format, None), None).await;
        let read: Vec<ActivityRecord> = pages.into_iter().flat_map(|p| p.records).collect();
        assert_eq!(read.len(), 2, "{format:?}");
        for (written, read) in from_json.iter().zip(&read) {
            assert_eq!(read.rid.as_deref().map(str::len), Some(49), "the server assigned a RID");
            assert_eq!(&as_stored(written.clone(), read), read, "{format:?}: field for field");
        }
        assert_eq!(read[1].details[0].before.as_deref(), Some("1"));
        assert_eq!(read[1].details[0].after.as_deref(), Some("2"));
    }
}

#[tokio::test]
async fn paging_gives_1000_1000_500_then_empty_and_resumes_with_exactly_the_new_records() {
    for format in [Format::Xml, Format::Json] {
        let emulator = Emulator::new(EmulatorConfig::default());
        emulator.add_records(netwrix::generate::generate(2_500, 11));
        let running = serve(&emulator).await;
        let client = client(&running, format, Some(1_000));

        let (pages, end_mark) = pages(&client, None).await;
        let sizes: Vec<usize> = pages.iter().map(|p| p.records.len()).collect();
        assert_eq!(sizes, [1000, 1000, 500, 0], "{format:?}");

        let new: Vec<ActivityRecord> = netwrix::generate::generate(2_510, 12).split_off(2_500);
        client.write(&new).await.unwrap();
        let (pages, _) = self::pages(&client, Some(end_mark)).await;
        let resumed: Vec<ActivityRecord> = pages.into_iter().flat_map(|p| p.records).collect();
        assert_eq!(resumed.len(), 10, "{format:?}: exactly the 10 written after the mark");
        for (w, r) in new.iter().zip(&resumed) {
            assert_eq!((&w.who, &w.what, &w.action), (&r.who, &r.what, &r.action));
        }
    }
}
