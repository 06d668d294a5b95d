//! Round trips and fixed documents for the XML and JSON codecs (and the spool's compact
//! form): property tests over arbitrary records, pages, searches, marks and error lists, exact bytes for the
//! spec's example documents, and decoding of the spec's reconstructed responses and of
//! documents a lenient reader must accept (reordered, unknown elements, padded marks).

use crate::common::*;
use netwrix::{
    json, xml, ActivityRecord, Detail, ErrorList, Filter, FilterValue, Format, Item, MonitoringPlan, Operator, Page,
    SearchRequest, Text,
};
use proptest::prelude::*;

const FORMATS: [Format; 2] = [Format::Xml, Format::Json];

fn enc(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("codecs write UTF-8")
}

/// The filters of `s` regrouped as the JSON encoder groups them: by field, in order of
/// each field's first appearance.
fn grouped(s: &SearchRequest) -> SearchRequest {
    let mut fields: Vec<&str> = Vec::new();
    for f in &s.filters {
        if !fields.contains(&f.field.as_str()) {
            fields.push(&f.field);
        }
    }
    let filters =
        fields.iter().flat_map(|field| s.filters.iter().filter(move |f| f.field == *field).cloned()).collect();
    SearchRequest { filters, mark: s.mark.clone() }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn page_round_trips_in_both_formats(page in arb_page()) {
        for format in FORMATS {
            let mut body = Vec::new();
            format.encode_page(&page, &mut body);
            let back = format.decode_page(&body).map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
            prop_assert_eq!(&back, &page, "{:?}: {}", format, String::from_utf8_lossy(&body));
            for (a, b) in back.records.iter().zip(&page.records) {
                prop_assert_eq!(a.id(), b.id());
            }
        }
    }

    #[test]
    fn compact_form_round_trips(record in arb_record_any_chars()) {
        let bytes = netwrix::compact::to_vec(&record);
        prop_assert_eq!(&netwrix::compact::decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, &record);
    }

    #[test]
    fn write_request_round_trips_in_both_formats(records in proptest::collection::vec(arb_record(), 0..4)) {
        for format in FORMATS {
            let mut body = Vec::new();
            format.encode_records(&records, &mut body);
            let back = format.decode_records(&body).map_err(|e| TestCaseError::fail(format!("{format:?}: {e}")))?;
            prop_assert_eq!(&back, &records);
            let ids: Vec<_> = back.iter().map(ActivityRecord::id).collect();
            let want: Vec<_> = records.iter().map(ActivityRecord::id).collect();
            prop_assert_eq!(ids, want);
        }
    }

    #[test]
    fn json_carries_any_character(records in proptest::collection::vec(arb_record_any_chars(), 0..3)) {
        let body = enc(|o| json::encode_records(&records, o));
        prop_assert_eq!(json::decode_records(body.as_bytes()).unwrap(), records);
    }

    #[test]
    fn xml_output_is_well_formed_even_for_illegal_characters(record in arb_record_any_chars()) {
        // Characters XML 1.0 cannot carry become U+FFFD; everything else survives.
        let body = enc(|o| xml::encode_records(std::slice::from_ref(&record), o));
        prop_assert!(!body.bytes().any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n')));
        let back = xml::decode_records(body.as_bytes()).unwrap();
        prop_assert_eq!(back.len(), 1);
        let scrub = |s: &str| -> String {
            s.chars().map(|c| match c {
                '\t' | '\n' | '\r' => c,
                '\0'..='\u{1f}' | '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
                _ => c,
            }).collect()
        };
        prop_assert_eq!(&back[0].who, &scrub(&record.who));
        prop_assert_eq!(&back[0].what, &scrub(&record.what));
    }

    #[test]
    fn mark_round_trips_in_both_formats(mark in arb_mark()) {
        for format in FORMATS {
            let mut body = Vec::new();
            format.encode_mark(&mark, &mut body);
            prop_assert_eq!(format.decode_mark(&body).unwrap(), mark.clone());
        }
    }

    #[test]
    fn search_round_trips_in_both_formats(search in arb_search()) {
        let body = enc(|o| xml::encode_search(&search, o));
        prop_assert_eq!(xml::decode_search(body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?, search.clone());
        let body = enc(|o| json::encode_search(&search, o));
        prop_assert_eq!(json::decode_search(body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {body}")))?, grouped(&search));
    }

    #[test]
    fn errors_round_trip_in_both_formats(errors in arb_errors()) {
        for format in FORMATS {
            let mut body = Vec::new();
            format.encode_errors(&errors, &mut body);
            prop_assert_eq!(format.decode_errors(&body).unwrap(), errors.clone());
        }
    }
}

const MARK: &str = "PG5yPjxuIG49IntBQkMx…PC9ucj4A";
const NS: &str = "http://schemas.netwrix.com/api/v1/activity_records/";

/// The record of the spec's reconstructed responses (§2).
fn spec_record() -> ActivityRecord {
    ActivityRecord {
        rid: Some("20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90".into()),
        who: "CORP\\jdoe".into(),
        action: "Modified".into(),
        what: "\\example\\corp\\Groups\\Finance".into(),
        when: "2024-03-01T10:15:02Z".into(),
        where_: "dc01.corp.example".into(),
        object_type: "group".into(),
        monitoring_plan: Some(MonitoringPlan {
            name: Some("Corp AD".into()),
            id: Some("{0B1D2C3A-1111-4222-8333-944455556666}".into()),
        }),
        data_source: Some("Active Directory".into()),
        item: Some(Item { name: Some("corp.example (Domain)".into()) }),
        workstation: Some("ws-17.corp.example".into()),
        details: vec![Detail {
            property_name: "member".into(),
            before: Some(Text::new()),
            after: Some("CORP\\asmith".into()),
            message: None,
        }],
    }
}

fn spec_page() -> Page {
    Page { records: vec![spec_record()], mark: Some(MARK.into()) }
}

const SPEC_XML_PAGE: &str = r#"<?xml version="1.0" standalone="yes"?>
<ActivityRecordList xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
  <ContinuationMark>PG5yPjxuIG49IntBQkMx…PC9ucj4A</ContinuationMark>
  <ActivityRecord>
    <MonitoringPlan>
      <Name>Corp AD</Name>
      <ID>{0B1D2C3A-1111-4222-8333-944455556666}</ID>
    </MonitoringPlan>
    <DataSource>Active Directory</DataSource>
    <Item><Name>corp.example (Domain)</Name></Item>
    <ObjectType>group</ObjectType>
    <RID>20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90</RID>
    <What>\example\corp\Groups\Finance</What>
    <Action>Modified</Action>
    <When>2024-03-01T10:15:02Z</When>
    <Where>dc01.corp.example</Where>
    <Who>CORP\jdoe</Who>
    <Workstation>ws-17.corp.example</Workstation>
    <DetailList>
      <Detail>
        <PropertyName>member</PropertyName>
        <Before></Before>
        <After>CORP\asmith</After>
      </Detail>
    </DetailList>
  </ActivityRecord>
</ActivityRecordList>
"#;

const SPEC_JSON_PAGE: &str = r#"{
  "ActivityRecordList": [
    {
      "Action": "Modified",
      "MonitoringPlan": {"ID": "{0B1D2C3A-1111-4222-8333-944455556666}", "Name": "Corp AD"},
      "DataSource": "Active Directory",
      "Item": {"Name": "corp.example (Domain)"},
      "ObjectType": "group",
      "RID": "20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90",
      "What": "\\example\\corp\\Groups\\Finance",
      "When": "2024-03-01T10:15:02Z",
      "Where": "dc01.corp.example",
      "Who": "CORP\\jdoe",
      "Workstation": "ws-17.corp.example",
      "DetailList": [{"PropertyName": "member", "Before": "", "After": "CORP\\asmith"}]
    }
  ],
  "ContinuationMark": "PG5yPjxuIG49IntBQkMx…PC9ucj4A"
}"#;

#[test]
fn spec_xml_response_decodes() {
    assert_eq!(xml::decode_page(SPEC_XML_PAGE.as_bytes()).unwrap(), spec_page());
}

#[test]
fn spec_json_response_decodes() {
    assert_eq!(json::decode_page(SPEC_JSON_PAGE.as_bytes()).unwrap(), spec_page());
}

#[test]
fn xml_page_exact_bytes() {
    let want = concat!(
        r#"<?xml version="1.0" standalone="yes"?>"#,
        r#"<ActivityRecordList xmlns="http://schemas.netwrix.com/api/v1/activity_records/">"#,
        r#"<ContinuationMark>PG5yPjxuIG49IntBQkMx…PC9ucj4A</ContinuationMark>"#,
        r#"<ActivityRecord><MonitoringPlan><Name>Corp AD</Name><ID>{0B1D2C3A-1111-4222-8333-944455556666}</ID></MonitoringPlan>"#,
        r#"<DataSource>Active Directory</DataSource><Item><Name>corp.example (Domain)</Name></Item><ObjectType>group</ObjectType>"#,
        r#"<RID>20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90</RID><What>\example\corp\Groups\Finance</What>"#,
        r#"<Action>Modified</Action><When>2024-03-01T10:15:02Z</When><Where>dc01.corp.example</Where><Who>CORP\jdoe</Who>"#,
        r#"<Workstation>ws-17.corp.example</Workstation><DetailList><Detail><PropertyName>member</PropertyName>"#,
        r#"<Before></Before><After>CORP\asmith</After></Detail></DetailList></ActivityRecord></ActivityRecordList>"#,
    );
    assert_eq!(enc(|o| xml::encode_page(&spec_page(), o)), want);
    // The same bytes as the spec's example with the indentation taken out.
    let mut compact = String::new();
    for line in SPEC_XML_PAGE.lines() {
        compact.push_str(line.trim());
    }
    assert_eq!(compact, want);
}

#[test]
fn json_page_exact_bytes() {
    let want = concat!(
        r#"{"ActivityRecordList":[{"RID":"20240301101502123A1B2C3D4E5F60718293A4B5C6D7E8F90","Who":"CORP\\jdoe","#,
        r#""Action":"Modified","What":"\\example\\corp\\Groups\\Finance","When":"2024-03-01T10:15:02Z","#,
        r#""Where":"dc01.corp.example","ObjectType":"group","#,
        r#""MonitoringPlan":{"Name":"Corp AD","ID":"{0B1D2C3A-1111-4222-8333-944455556666}"},"#,
        r#""DataSource":"Active Directory","Item":{"Name":"corp.example (Domain)"},"Workstation":"ws-17.corp.example","#,
        r#""DetailList":[{"PropertyName":"member","Before":"","After":"CORP\\asmith"}]}],"#,
        r#""ContinuationMark":"PG5yPjxuIG49IntBQkMx…PC9ucj4A"}"#,
    );
    assert_eq!(enc(|o| json::encode_page(&spec_page(), o)), want);
    let no_mark = Page { records: vec![], mark: None };
    assert_eq!(enc(|o| json::encode_page(&no_mark, o)), r#"{"ActivityRecordList":[]}"#);
}

#[test]
fn write_request_exact_bytes() {
    let rec = ActivityRecord {
        who: "CORP\\a".into(),
        action: "Added".into(),
        what: "x".into(),
        when: "2017-02-19T03:43:49-11:00".into(),
        where_: "w".into(),
        object_type: "t".into(),
        ..Default::default()
    };
    assert_eq!(
        enc(|o| xml::encode_records(std::slice::from_ref(&rec), o)),
        format!(
            r#"<?xml version="1.0" standalone="yes"?><ActivityRecordList xmlns="{NS}"><ActivityRecord><ObjectType>t</ObjectType><What>x</What><Action>Added</Action><When>2017-02-19T03:43:49-11:00</When><Where>w</Where><Who>CORP\a</Who></ActivityRecord></ActivityRecordList>"#
        )
    );
    assert_eq!(
        enc(|o| json::encode_records(std::slice::from_ref(&rec), o)),
        r#"[{"Who":"CORP\\a","Action":"Added","What":"x","When":"2017-02-19T03:43:49-11:00","Where":"w","ObjectType":"t"}]"#
    );
}

#[test]
fn mark_exact_bytes_and_trimming() {
    assert_eq!(
        enc(|o| xml::encode_mark("TOKEN", o)),
        format!(r#"<?xml version="1.0" standalone="yes"?><ContinuationMark xmlns="{NS}">TOKEN</ContinuationMark>"#)
    );
    assert_eq!(enc(|o| json::encode_mark("TOKEN", o)), r#""TOKEN""#);
    let padded = format!("<?xml version=\"1.0\" standalone=\"yes\"?>\r\n<ContinuationMark xmlns=\"{NS}\">\r\n   TOKEN==\n\t</ContinuationMark>\n");
    assert_eq!(xml::decode_mark(padded.as_bytes()).unwrap(), "TOKEN==");
    assert_eq!(xml::decode_mark(b"<ContinuationMark/>").unwrap(), "");
    assert_eq!(json::decode_mark(b" \" TOKEN\\n\" ").unwrap(), "TOKEN");
}

fn spec_search() -> SearchRequest {
    let f = |field: &str, operator, value: &str| Filter {
        field: field.into(),
        operator,
        value: FilterValue::Text(value.into()),
    };
    SearchRequest {
        filters: vec![
            f("Who", Some(Operator::NotInGroup), "CORP\\Domain Admins"),
            f("DataSource", None, "Active Directory"),
            f("DataSource", Some(Operator::StartsWith), "Exchange"),
            f("Action", None, "Added"),
            f("Action", None, "Removed"),
            f("ObjectType", Some(Operator::DoesNotContain), "group"),
            Filter {
                field: "When".into(),
                operator: None,
                value: FilterValue::Interval {
                    from: Some("2024-01-01T00:00:00Z".into()),
                    to: Some("2024-02-01T00:00:00+01:00".into()),
                },
            },
        ],
        mark: Some("TOKEN".into()),
    }
}

const SPEC_XML_SEARCH: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<ActivityRecordSearch xmlns="http://schemas.netwrix.com/api/v1/activity_records/">
  <ContinuationMark>TOKEN</ContinuationMark>            <!-- optional -->
  <FilterList>
    <Who Operator="NotInGroup">CORP\Domain Admins</Who>
    <DataSource>Active Directory</DataSource>
    <DataSource Operator="StartsWith">Exchange</DataSource>
    <Action>Added</Action>
    <Action>Removed</Action>
    <ObjectType Operator="DoesNotContain">group</ObjectType>
    <When>
      <From>2024-01-01T00:00:00Z</From>
      <To>2024-02-01T00:00:00+01:00</To>
    </When>
  </FilterList>
</ActivityRecordSearch>
"#;

const SPEC_JSON_SEARCH: &str = r#"{
  "ContinuationMark": "TOKEN",
  "FilterList": {
    "Who": {"NotInGroup": "CORP\\Domain Admins"},
    "DataSource": ["Active Directory", {"StartsWith": "Exchange"}],
    "Action": ["Added", "Removed"],
    "ObjectType": {"DoesNotContain": "group"},
    "When": {"From": "2024-01-01T00:00:00Z", "To": "2024-02-01T00:00:00+01:00"}
  }
}"#;

#[test]
fn spec_searches_decode_and_encode_exactly() {
    assert_eq!(xml::decode_search(SPEC_XML_SEARCH.as_bytes()).unwrap(), spec_search());
    assert_eq!(json::decode_search(SPEC_JSON_SEARCH.as_bytes()).unwrap(), spec_search());
    assert_eq!(
        enc(|o| xml::encode_search(&spec_search(), o)),
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?><ActivityRecordSearch xmlns="http://schemas.netwrix.com/api/v1/activity_records/">"#,
            r#"<ContinuationMark>TOKEN</ContinuationMark><FilterList><Who Operator="NotInGroup">CORP\Domain Admins</Who>"#,
            r#"<DataSource>Active Directory</DataSource><DataSource Operator="StartsWith">Exchange</DataSource>"#,
            r#"<Action>Added</Action><Action>Removed</Action><ObjectType Operator="DoesNotContain">group</ObjectType>"#,
            r#"<When><From>2024-01-01T00:00:00Z</From><To>2024-02-01T00:00:00+01:00</To></When></FilterList></ActivityRecordSearch>"#,
        )
    );
    assert_eq!(
        enc(|o| json::encode_search(&spec_search(), o)),
        concat!(
            r#"{"ContinuationMark":"TOKEN","FilterList":{"Who":{"NotInGroup":"CORP\\Domain Admins"},"#,
            r#""DataSource":["Active Directory",{"StartsWith":"Exchange"}],"Action":["Added","Removed"],"#,
            r#""ObjectType":{"DoesNotContain":"group"},"When":{"From":"2024-01-01T00:00:00Z","To":"2024-02-01T00:00:00+01:00"}}}"#,
        )
    );
}

fn when(operator: Option<Operator>, value: FilterValue) -> Filter {
    Filter { field: "When".into(), operator, value }
}

fn period(p: &str) -> FilterValue {
    FilterValue::Period(p.into())
}

#[test]
fn every_operator_round_trips() {
    for op in Operator::ALL {
        let search = SearchRequest {
            filters: vec![Filter {
                field: "Who".into(),
                operator: Some(op),
                value: FilterValue::Text("CORP\\x".into()),
            }],
            mark: None,
        };
        let x = enc(|o| xml::encode_search(&search, o));
        assert!(x.contains(&format!(r#"<Who Operator="{op}">CORP\x</Who>"#)), "{x}");
        assert_eq!(xml::decode_search(x.as_bytes()).unwrap(), search);
        let j = enc(|o| json::encode_search(&search, o));
        assert_eq!(j, format!(r#"{{"FilterList":{{"Who":{{"{op}":"CORP\\x"}}}}}}"#));
        assert_eq!(json::decode_search(j.as_bytes()).unwrap(), search);
    }
}

#[test]
fn when_forms_in_xml() {
    let body = format!(
        r#"<ActivityRecordSearch xmlns="{NS}"><FilterList>
            <When><LastSevenDays/></When>
            <When Operator="NotEqualTo"><From>2024-01-01T00:00:00Z</From></When>
            <When><Today></Today></When>
            <When Operator="Equals">2024-01-01T00:00:00Z</When>
            <WorkingHours><From>09:00:00+00:00</From><To>17:00:00+00:00</To></WorkingHours>
        </FilterList></ActivityRecordSearch>"#
    );
    let want = SearchRequest {
        filters: vec![
            when(None, period("LastSevenDays")),
            when(
                Some(Operator::NotEqualTo),
                FilterValue::Interval { from: Some("2024-01-01T00:00:00Z".into()), to: None },
            ),
            when(None, period("Today")),
            when(Some(Operator::Equals), FilterValue::Text("2024-01-01T00:00:00Z".into())),
            Filter {
                field: "WorkingHours".into(),
                operator: None,
                value: FilterValue::Interval { from: Some("09:00:00+00:00".into()), to: Some("17:00:00+00:00".into()) },
            },
        ],
        mark: None,
    };
    let got = xml::decode_search(body.as_bytes()).unwrap();
    assert_eq!(got, want);
    let again = enc(|o| xml::encode_search(&got, o));
    assert!(again.contains("<When><LastSevenDays/></When>"), "{again}");
    assert!(again.contains(r#"<When Operator="NotEqualTo"><From>2024-01-01T00:00:00Z</From></When>"#), "{again}");
    assert_eq!(xml::decode_search(again.as_bytes()).unwrap(), want);
}

#[test]
fn when_forms_and_value_forms_in_json() {
    let body = r#"{"filterlist": {
        "when": [{"LastSevenDays": ""}, {"From": "a", "To": "b"}, {"NotEqualTo": {"From": "c"}}, {"notequalto": {"Today": ""}}],
        "DataSource": {"StartsWith": "Exchange", "EndsWith": "Online"},
        "Monitoring Plan": "x"
    }, "continuationmark": "  TOKEN "}"#;
    let want = SearchRequest {
        filters: vec![
            when(None, period("LastSevenDays")),
            when(None, FilterValue::Interval { from: Some("a".into()), to: Some("b".into()) }),
            when(Some(Operator::NotEqualTo), FilterValue::Interval { from: Some("c".into()), to: None }),
            when(Some(Operator::NotEqualTo), period("Today")),
            Filter {
                field: "DataSource".into(),
                operator: Some(Operator::StartsWith),
                value: FilterValue::Text("Exchange".into()),
            },
            Filter {
                field: "DataSource".into(),
                operator: Some(Operator::EndsWith),
                value: FilterValue::Text("Online".into()),
            },
            Filter { field: "Monitoring Plan".into(), operator: None, value: FilterValue::Text("x".into()) },
        ],
        mark: Some("TOKEN".into()),
    };
    assert_eq!(json::decode_search(body.as_bytes()).unwrap(), want);
    let out = enc(|o| json::encode_search(&want, o));
    assert_eq!(
        out,
        concat!(
            r#"{"ContinuationMark":"TOKEN","FilterList":{"When":[{"LastSevenDays":""},{"From":"a","To":"b"},"#,
            r#"{"NotEqualTo":{"From":"c"}},{"NotEqualTo":{"Today":""}}],"#,
            r#""DataSource":[{"StartsWith":"Exchange"},{"EndsWith":"Online"}],"Monitoring Plan":"x"}}"#
        )
    );
    assert_eq!(json::decode_search(out.as_bytes()).unwrap(), want);
}

#[test]
fn mcp_follow_up_search_decodes() {
    let body = br#"{"ContinuationMark":"TOKEN","filterlist":{"Who":"jdoe","When":{"LastThirtyDays":""}}}"#;
    let got = json::decode_search(body).unwrap();
    assert_eq!(got.mark.as_deref(), Some("TOKEN"));
    assert_eq!(got.filters[1], when(None, period("LastThirtyDays")));
}

#[test]
fn bad_searches_are_errors() {
    let no_list = json::decode_search(br#"{"ContinuationMark":"T"}"#).unwrap_err();
    assert!(no_list.detail.contains("FilterList"), "{no_list}");
    assert!(json::decode_search(br#"{"FilterList":{"Who":{"Containz":"x"}}}"#).is_err());
    assert!(json::decode_search(br#"{"FilterList":{"Who":{"Equals":{"Contains":"x"}}}}"#).is_err());
    assert!(json::decode_search(br#"{"FilterList":{"Who":[["x"]]}}"#).is_err());
    assert!(json::decode_search(br#"{"FilterList":{"Who":null}}"#).is_err());
    assert!(json::decode_search(br#"{"FilterList":{"Who":1}}"#).is_err());
    let e = xml::decode_search(format!(r#"<ActivityRecordSearch xmlns="{NS}"/>"#).as_bytes()).unwrap_err();
    assert_eq!(e.position, 0, "{e}");
    let body = format!(
        r#"<ActivityRecordSearch xmlns="{NS}"><FilterList><Who Operator="Containz">x</Who></FilterList></ActivityRecordSearch>"#
    );
    let e = xml::decode_search(body.as_bytes()).unwrap_err();
    assert_eq!(e.position as usize, body.find("<Who").unwrap(), "{e}");
    let body = format!(
        r#"<ActivityRecordSearch xmlns="{NS}"><FilterList><When><Today/><From>x</From></When></FilterList></ActivityRecordSearch>"#
    );
    assert!(xml::decode_search(body.as_bytes()).is_err());
    // An empty FilterList is well-formed; the emulator decides what it means.
    let empty = json::decode_search(br#"{"FilterList":{}}"#).unwrap();
    assert!(empty.filters.is_empty());
}

#[test]
fn error_lists_exact_bytes_and_spec_examples() {
    let desc = "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";
    let list = ErrorList::one("InputError", desc);
    let x = enc(|o| xml::encode_errors(&list, o));
    assert_eq!(
        x,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><ErrorList xmlns="http://schemas.netwrix.com/api/v1/"><Error><Category>InputError</Category><Description>{desc}</Description></Error></ErrorList>"#
        )
    );
    let j = enc(|o| json::encode_errors(&list, o));
    assert_eq!(j, format!(r#"{{"ErrorList":[{{"Category":"InputError","Description":"{desc}"}}]}}"#));
    assert_eq!(json::decode_errors(j.as_bytes()).unwrap(), list);

    let spec_xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<ErrorList xmlns="http://schemas.netwrix.com/api/v1/">
  <Error>
    <Category>InputError</Category>
    <Description>{desc}</Description>
    <Location>optional: points at the bad part of the request, always written as XML</Location>
  </Error>
</ErrorList>"#
    );
    let got = xml::decode_errors(spec_xml.as_bytes()).unwrap();
    assert_eq!(got.errors.len(), 1);
    assert_eq!(got.errors[0].category, "InputError");
    assert_eq!(got.errors[0].description, desc);
    assert!(got.errors[0].location.as_deref().unwrap().starts_with("optional"));
    let spec_json = format!(r#"{{"ErrorList": [{{"Category": "InputError", "Description": "{desc}"}}]}}"#);
    assert_eq!(json::decode_errors(spec_json.as_bytes()).unwrap(), list);
}

#[test]
fn lenient_xml_reordered_unknown_padded_prefixed() {
    let body = format!(
        r#"<?xml version="1.0" standalone="yes"?>
<!-- a comment -->
<n:ActivityRecordList xmlns:n="{NS}">
  <n:ActivityRecord>
    <n:Who>CORP\jdoe</n:Who>
    <n:Unknown a="1"><n:Nested><n:Who>not me</n:Who><Deeper/></n:Nested>text</n:Unknown>
    <n:DetailList><n:Detail><n:After/><n:PropertyName>p</n:PropertyName><n:Before></n:Before></n:Detail></n:DetailList>
    <n:Action>Modified</n:Action>
    <n:MonitoringPlan/>
    <n:Item></n:Item>
    <n:What><![CDATA[a <b> & ]]]]><![CDATA[> c]]></n:What>
    <n:Where>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;&#13;</n:Where>
  </n:ActivityRecord>
  <n:ContinuationMark>
      TOKEN
  </n:ContinuationMark>
  <n:ActivityRecord/>
</n:ActivityRecordList>
<?pi after?>
"#
    );
    let page = xml::decode_page(body.as_bytes()).unwrap();
    assert_eq!(page.mark.as_deref(), Some("TOKEN"));
    assert_eq!(page.records.len(), 2);
    let r = &page.records[0];
    assert_eq!(r.who, "CORP\\jdoe");
    assert_eq!(r.action, "Modified");
    assert_eq!(r.what, "a <b> & ]]> c");
    assert_eq!(r.where_, "<&>\"'AB\r");
    assert_eq!(r.monitoring_plan, Some(MonitoringPlan::default()));
    assert_eq!(r.item, Some(Item::default()));
    assert_eq!(r.when, "", "a missing mandatory field is empty");
    assert_eq!(
        r.details,
        vec![Detail { property_name: "p".into(), before: Some(Text::new()), after: Some(Text::new()), message: None }]
    );
    assert_eq!(page.records[1], ActivityRecord::default());
}

#[test]
fn xml_line_ends_follow_the_xml_rules() {
    // Literal CRLF and CR read as LF (XML 1.0 §2.11); &#13; reads as CR.
    let body = format!("<ActivityRecordList xmlns=\"{NS}\"><ActivityRecord><Who>a\r\nb\rc&#13;\n</Who></ActivityRecord></ActivityRecordList>");
    assert_eq!(xml::decode_records(body.as_bytes()).unwrap()[0].who, "a\nb\nc\r\n");
    let rec = ActivityRecord { who: " a\r\nb\r ".into(), ..Default::default() };
    let out = enc(|o| xml::encode_records(std::slice::from_ref(&rec), o));
    assert!(out.contains("<Who> a&#13;\nb&#13; </Who>"), "{out}");
}

#[test]
fn empty_pages() {
    for body in [
        format!(r#"<?xml version="1.0" standalone="yes"?><ActivityRecordList xmlns="{NS}"/>"#),
        format!(r#"<ActivityRecordList xmlns="{NS}"></ActivityRecordList>"#),
    ] {
        assert_eq!(xml::decode_page(body.as_bytes()).unwrap(), Page::default());
    }
    assert_eq!(json::decode_page(br#"{"ActivityRecordList":[]}"#).unwrap(), Page::default());
    let p =
        json::decode_page(b"\xEF\xBB\xBF{\"ActivityRecordList\":[],\"ContinuationMark\":\"M\",\"Extra\":{\"a\":[1]}}")
            .unwrap();
    assert_eq!(p.mark.as_deref(), Some("M"));
    assert!(json::decode_page(br#"{"ErrorList":[]}"#).is_err(), "a page must have ActivityRecordList");
    assert!(xml::decode_page(b"").is_err());
    assert!(json::decode_page(b"").is_err());
}

#[test]
fn malformed_xml_positions_point_at_the_fault() {
    // A mismatched end tag: the position is the `</` of the wrong end tag.
    let body = format!(
        "<ActivityRecordList xmlns=\"{NS}\"><ActivityRecord><Who>CORP\\a</What></ActivityRecord></ActivityRecordList>"
    );
    let e = xml::decode_page(body.as_bytes()).unwrap_err();
    assert_eq!(e.position, 107, "{e}");
    assert_eq!(body.find("</What>"), Some(107));

    // Invalid UTF-8: the exact byte.
    let mut bad = body.replace("</What>", "</Who>").into_bytes();
    bad[100] = 0xFF;
    let e = xml::decode_page(&bad).unwrap_err();
    assert_eq!(e.position, 100, "{e}");

    // An unknown entity: the `&`.
    let body = format!(
        "<ActivityRecordList xmlns=\"{NS}\"><ActivityRecord><Who>a&nbsp;b</Who></ActivityRecord></ActivityRecordList>"
    );
    let e = xml::decode_page(body.as_bytes()).unwrap_err();
    assert_eq!(e.position, 102, "{e}");
    assert_eq!(body.find('&'), Some(102));

    // Truncation: the end of the body.
    let mut full = Vec::new();
    xml::encode_page(&spec_page(), &mut full);
    let cut = &full[..full.len() - "</ActivityRecordList>".len()];
    let e = xml::decode_page(cut).unwrap_err();
    assert_eq!(e.position, cut.len() as u64, "{e}");
    // Truncation inside a tag: the `<` of that tag.
    let cut = &full[..full.len() - 10];
    let e = xml::decode_page(cut).unwrap_err();
    assert_eq!(e.position, (full.len() - "</ActivityRecordList>".len()) as u64, "{e}");

    // An unclosed tag at the end: the `<` that starts it.
    let e = xml::decode_page(format!("<ActivityRecordList xmlns=\"{NS}\"><Activ").as_bytes()).unwrap_err();
    assert_eq!(e.position, 80, "{e}");

    // Wrong root element.
    let e = xml::decode_page(b"<?xml version=\"1.0\"?>\n<ErrorList/>").unwrap_err();
    assert_eq!(e.position, 22, "{e}");
}

#[test]
fn json_positions_point_at_the_fault() {
    let body = b"{\"ActivityRecordList\":[{\"Who\":\"a\"},\n{\"Who\": tru}]}";
    let e = json::decode_page(body).unwrap_err();
    assert_eq!(e.position, 47, "{e}");
    assert_eq!(body[47], b'}', "the byte where `true` went wrong");
    let e = json::decode_page(b"{\"ActivityRecordList\":[{\"Who\":\"\xFF\"}]}").unwrap_err();
    assert!(e.position >= 31 && e.position <= 32, "{e}");
}
