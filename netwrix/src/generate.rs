//! Realistic, reproducible activity records for tests, demos and benchmarks.
//!
//! Records look like what the data sources of spec §4 produce: AD users, groups and
//! computers; Exchange and Exchange Online mailboxes; file-server paths such as
//! `\\fs01\Finance\…` with backslashes; logons; SharePoint documents; SQL Server objects;
//! Group Policy, Entra ID, Windows Server, VMware and Oracle. They carry the rough edges
//! an exporter must survive: non-ASCII names (ü, é, 日本語, Cyrillic), missing
//! `Workstation` and `DetailList`, multi-line `Before`/`After` values (some with `\r\n`),
//! and about one record in 2,000 with a value of 20,000+ characters.
//!
//! The same seed always gives the same records. RIDs are in the server's 49-character
//! form and their timestamps increase strictly; `When` is the same instant to the second.

use crate::model::{ActivityRecord, Detail, Item, MonitoringPlan};
use chrono::{DateTime, Datelike, Timelike};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// `n` records for `seed`: the first `n` of [`generate_iter`]`(seed)`.
pub fn generate(n: usize, seed: u64) -> Vec<ActivityRecord> {
    generate_iter(seed).take(n).collect()
}

/// An endless, lazy stream of records for `seed`.
pub fn generate_iter(seed: u64) -> Generator {
    Generator::new(seed)
}

/// The record stream of [`generate_iter`]: each `next()` builds one record.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: StdRng,
    /// Milliseconds since the Unix epoch of the last record.
    clock_ms: i64,
    /// (name, ID) of each monitoring plan, indexed by [`Source`].
    plans: Vec<(String, String)>,
}

/// 2024-03-01T00:00:00Z: where every stream's clock starts.
const START_MS: i64 = 1_709_251_200_000;

/// (sAMAccountName, display name): the display names are deliberately international.
const PEOPLE: &[(&str, &str)] = &[
    ("jdoe", "John Doe"),
    ("jmueller", "Jürgen Müller"),
    ("amartinez", "José Martínez"),
    ("lnowak", "Łukasz Nowak"),
    ("asmirnov", "Андрей Смирнов"),
    ("oivanova", "Ольга Иванова"),
    ("tyamada", "山田太郎"),
    ("hsato", "佐藤花子"),
    ("zdubois", "Zoë Dubois"),
    ("rcote", "Renée Côté"),
    ("skierkegaard", "Søren Kierkegård"),
    ("mgarcia", "María García"),
    ("fozturk", "Fatih Öztürk"),
    ("administrator", "Administrator"),
    ("svc_backup", "Backup Service"),
    ("helpdesk01", "Helpdesk Operator"),
];
const GROUPS: &[&str] = &["Domain Admins", "Finance", "Vertrieb Süd", "Бухгалтерия", "営業部", "Helpdesk", "VPN Users"];
const COMPUTERS: &[&str] = &["WS-0142", "WS-0877", "LAPTOP-7F3K2Q", "SRV-APP01", "SRV-DB02", "KIOSK-03"];
const OUS: &[&str] = &["Users", "Staff", "Contractors", "Zürich", "Москва", "東京"];
const SHARES: &[&str] = &["Finance", "HR", "Public", "Projekte", "Общий", "共有"];
const FOLDERS: &[&str] = &["Budget 2024", "Verträge", "Reports", "Résumés", "Архив", "設計書", "Q3\\Drafts"];
const FILES: &[&str] = &[
    "Übersicht_Q3.xlsx",
    "report.docx",
    "contrat_signé.pdf",
    "Отчёт.pdf",
    "見積書_2024.xlsx",
    "notes.txt",
    "payroll.csv",
    "Präsentation final (2).pptx",
];
const WORKSTATIONS: &[&str] = &[
    "WS-0142.corp.local",
    "WS-0877.corp.local",
    "LAPTOP-7F3K2Q.corp.local",
    "10.0.12.34",
    "192.168.1.57",
    "fe80::1c2b:3aff:fe4d:5e6f",
];
const TABLES: &[&str] = &["dbo.Employees", "dbo.Payroll", "dbo.Orders", "sales.Kunden", "dbo.Журнал"];

/// The data sources generated, with their weights (out of 100).
#[derive(Debug, Clone, Copy)]
enum Source {
    ActiveDirectory,
    FileServers,
    Logon,
    Exchange,
    ExchangeOnline,
    SharePoint,
    SqlServer,
    GroupPolicy,
    EntraId,
    WindowsServer,
    VMware,
    Oracle,
}

const SOURCES: &[(Source, u32, &str, &str)] = &[
    (Source::ActiveDirectory, 22, "Active Directory", "AD Changes"),
    (Source::FileServers, 25, "File Servers", "File Servers – Zentrale"),
    (Source::Logon, 14, "Logon Activity", "Logons"),
    (Source::Exchange, 6, "Exchange", "Exchange On-Premises"),
    (Source::ExchangeOnline, 6, "Exchange Online", "Microsoft 365"),
    (Source::SharePoint, 7, "SharePoint", "SharePoint Farm"),
    (Source::SqlServer, 7, "SQL Server", "SQL Server Audit"),
    (Source::GroupPolicy, 3, "Group Policy", "AD Changes"),
    (Source::EntraId, 4, "Entra ID", "Microsoft 365"),
    (Source::WindowsServer, 3, "Windows Server", "Servers"),
    (Source::VMware, 2, "VMware", "Virtualisation"),
    (Source::Oracle, 1, "Oracle Database", "Oracle"),
];

impl Generator {
    fn new(seed: u64) -> Self {
        let plans = SOURCES.iter().map(|&(_, _, _, plan)| (plan.to_string(), guid_for(plan))).collect();
        Generator { rng: StdRng::seed_from_u64(seed), clock_ms: START_MS, plans }
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &'a [&'a T]) -> &'a T {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn person(&mut self) -> (&'static str, &'static str) {
        PEOPLE[self.rng.random_range(0..PEOPLE.len())]
    }

    fn file_path(&mut self) -> String {
        let (share, folder, file) = (self.pick(SHARES), self.pick(FOLDERS), self.pick(FILES));
        format!("\\\\fs01\\{share}\\{folder}\\{file}")
    }

    fn build(&mut self) -> ActivityRecord {
        self.clock_ms += self.rng.random_range(1..=2_500);
        let ts = DateTime::from_timestamp_millis(self.clock_ms).unwrap_or_default();
        let mut rid = String::with_capacity(49);
        let _ = write!(
            rid,
            "{:04}{:02}{:02}{:02}{:02}{:02}{:03}{:032X}",
            ts.year(),
            ts.month(),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second(),
            ts.timestamp_subsec_millis(),
            self.rng.random::<u128>()
        );
        let when = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            ts.year(),
            ts.month(),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second()
        );
        let total: u32 = SOURCES.iter().map(|s| s.1).sum();
        let mut roll = self.rng.random_range(0..total);
        let mut index = 0;
        for (i, s) in SOURCES.iter().enumerate() {
            if roll < s.1 {
                index = i;
                break;
            }
            roll -= s.1;
        }
        let (source, _, data_source, _) = SOURCES[index];
        let (plan_name, plan_id) = self.plans[index].clone();
        let mut r = ActivityRecord {
            rid: Some(rid.into()),
            when: when.into(),
            data_source: Some(data_source.into()),
            monitoring_plan: Some(MonitoringPlan { name: Some(plan_name.into()), id: Some(plan_id.into()) }),
            ..Default::default()
        };
        let item = match source {
            Source::ActiveDirectory => self.active_directory(&mut r),
            Source::FileServers => self.file_servers(&mut r),
            Source::Logon => self.logon(&mut r),
            Source::Exchange => self.exchange(&mut r),
            Source::ExchangeOnline => self.exchange_online(&mut r),
            Source::SharePoint => self.sharepoint(&mut r),
            Source::SqlServer => self.sql_server(&mut r),
            Source::GroupPolicy => self.group_policy(&mut r),
            Source::EntraId => self.entra_id(&mut r),
            Source::WindowsServer => self.windows_server(&mut r),
            Source::VMware => self.vmware(&mut r),
            Source::Oracle => self.oracle(&mut r),
        };
        r.item = Some(Item { name: Some(item.into()) });
        if r.workstation.is_none() && self.chance(0.6) {
            r.workstation = Some(self.pick(WORKSTATIONS).into());
        }
        if self.rng.random_ratio(1, 2_000) {
            let target = self.rng.random_range(20_000..60_000);
            let property = match source {
                Source::SqlServer | Source::Oracle => "Definition",
                Source::ActiveDirectory => "member",
                Source::FileServers => "Permissions",
                _ => "Details",
            };
            let value = self.big_value(target);
            r.details.push(Detail {
                property_name: property.into(),
                before: None,
                after: Some(value.into()),
                message: None,
            });
        }
        r
    }

    /// A long multi-line value of at least `target` characters.
    fn big_value(&mut self, target: usize) -> String {
        let mut s = String::with_capacity(target + 128);
        let mut chars = 0;
        let mut i = 0u32;
        while chars < target {
            let before = s.len();
            let _ = write!(
                s,
                "Line {i}: CORP\\user{:05} – Zugriff gewährt auf \\\\fs01\\Общий\\{i}\r\n",
                self.rng.random_range(0..100_000)
            );
            chars += s[before..].chars().count();
            i += 1;
        }
        s
    }

    fn active_directory(&mut self, r: &mut ActivityRecord) -> String {
        let (admin, _) = self.person();
        r.who = format!("CORP\\{admin}").into();
        r.where_ = if self.chance(0.5) { "dc01.corp.local".into() } else { "dc02.corp.local".into() };
        match self.rng.random_range(0..3) {
            0 => {
                let (_, display) = self.person();
                r.object_type = "user".into();
                r.what = format!("\\local\\corp\\{}\\{display}", self.pick(OUS)).into();
                r.action = self
                    .pick(&["Added", "Modified", "Modified", "Removed", "Moved", "Renamed", "Modify (Failed Attempt)"])
                    .into();
                if r.action == "Modified" && self.chance(0.8) {
                    r.details.push(match self.rng.random_range(0..3) {
                        0 => detail(
                            "userAccountControl",
                            Some("Normal account"),
                            Some("Normal account\r\nAccount disabled"),
                        ),
                        1 => detail(
                            "description",
                            Some("Temporärer Zugang"),
                            Some("Zugang bis 31.12.\nGenehmigt von IT"),
                        ),
                        _ => detail("telephoneNumber", None, Some("+49 89 1234-567")),
                    });
                } else if r.action == "Moved" {
                    r.details.push(detail("Object Path", Some("\\local\\corp\\Users"), Some("\\local\\corp\\Staff")));
                }
            }
            1 => {
                let group = self.pick(GROUPS);
                let (member, _) = self.person();
                r.object_type = "group".into();
                r.what = format!("\\local\\corp\\Groups\\{group}").into();
                r.action = self.pick(&["Modified", "Modified", "Added", "Removed"]).into();
                if r.action == "Modified" {
                    let member = format!("CORP\\{member}");
                    r.details.push(if self.chance(0.5) {
                        detail("member", None, Some(&member))
                    } else {
                        detail("member", Some(&format!("{member}\r\nCORP\\jdoe")), Some("CORP\\jdoe"))
                    });
                }
            }
            _ => {
                r.object_type = "computer".into();
                r.what = format!("\\local\\corp\\Computers\\{}", self.pick(COMPUTERS)).into();
                r.action = self.pick(&["Added", "Removed", "Modified"]).into();
                if r.action == "Modified" {
                    r.details.push(detail("operatingSystemVersion", Some("10.0 (19045)"), Some("10.0 (22631)")));
                }
            }
        }
        "corp.local (Domain)".into()
    }

    fn file_servers(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("CORP\\{user}").into();
        r.where_ = "fs01.corp.local".into();
        let path = self.file_path();
        if self.chance(0.2) {
            r.object_type = "folder".into();
            r.what = path.rsplit_once('\\').map_or(path.as_str(), |(dir, _)| dir).into();
            r.action = self.pick(&["Added", "Removed", "Modified", "Read"]).into();
        } else {
            r.object_type = "file".into();
            r.what = path.into();
            r.action = self
                .pick(&[
                    "Read",
                    "Read",
                    "Read",
                    "Modified",
                    "Added",
                    "Removed",
                    "Renamed",
                    "Moved",
                    "Copied",
                    "Read (Failed Attempt)",
                ])
                .into();
        }
        match r.action.as_str() {
            "Modified" if self.chance(0.5) => r.details.push(detail(
                "Permissions",
                Some("CORP\\Finance: Read (Allow)\r\nCORP\\Domain Admins: Full Control (Allow)"),
                Some("CORP\\Finance: Modify (Allow)\r\nCORP\\Domain Admins: Full Control (Allow)\r\nEveryone: Read (Deny)"),
            )),
            "Renamed" | "Moved" => {
                let to = self.file_path();
                r.details.push(detail("Path", Some(&r.what.clone()), Some(&to)));
            }
            _ => {}
        }
        let share = r.what.split('\\').nth(3).unwrap_or("Public").to_string();
        format!("\\\\fs01\\{share} (Windows file share)")
    }

    fn logon(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("CORP\\{user}").into();
        r.what = format!("CORP\\{user}").into();
        r.object_type = "Logon".into();
        r.where_ = "dc01.corp.local".into();
        r.action =
            self.pick(&["Successful Logon", "Successful Logon", "Successful Logon", "Failed Logon", "Logoff"]).into();
        r.workstation = Some(self.pick(WORKSTATIONS).into());
        if r.action == "Failed Logon" {
            r.details.push(detail(
                "Cause",
                None,
                Some(self.pick(&["Bad password", "Account locked out", "Unknown user name"])),
            ));
        } else if r.action == "Successful Logon" && self.chance(0.3) {
            r.details.push(detail(
                "Logon Type",
                None,
                Some(self.pick(&["Interactive", "RemoteInteractive", "Network"])),
            ));
        }
        "corp.local (Domain)".into()
    }

    fn exchange(&mut self, r: &mut ActivityRecord) -> String {
        let (admin, _) = self.person();
        let (_, owner) = self.person();
        r.who = format!("CORP\\{admin}").into();
        r.where_ = "exch01.corp.local".into();
        r.object_type = "Mailbox".into();
        r.what = format!("corp.local/{}/{owner}", self.pick(OUS)).into();
        r.action = self.pick(&["Modified", "Modified", "Added", "Removed"]).into();
        if r.action == "Modified" {
            r.details.push(if self.chance(0.5) {
                detail("Custom_Attribute", Some("1"), Some("2"))
            } else {
                detail("SendAs", None, Some(&format!("CORP\\{admin}")))
            });
        }
        "corp.local (Domain)".into()
    }

    fn exchange_online(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("{user}@corp.onmicrosoft.com").into();
        r.where_ = self.pick(&["BLUPR05MB1940", "AM6PR04MB5555", "DB8PR10MB3021"]).into();
        if self.chance(0.5) {
            r.object_type = "Mailbox Item".into();
            r.action = self.pick(&["Sent", "Removed", "Moved", "Read"]).into();
            r.what = format!(
                "{user}@corp.onmicrosoft.com\\Inbox\\{}",
                self.pick(&["Angebot Nr. 4711", "Réunion lundi", "Отчёт за март", "会議の議事録"])
            )
            .into();
        } else {
            r.object_type = "Mailbox".into();
            r.action = "Modified".into();
            r.what = self.pick(&["Shared Mailbox", "Empfang Zürich", "Support"]).into();
            r.details.push(detail("Custom_Attribute", Some("1"), Some("2")));
        }
        "corp.onmicrosoft.com (Office 365 tenant)".into()
    }

    fn sharepoint(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("CORP\\{user}").into();
        r.where_ = "http://sp.corp.local".into();
        let site = self.pick(&["Finance", "HR", "Entwicklung", "Маркетинг"]);
        if self.chance(0.7) {
            r.object_type = "Document".into();
            r.what = format!("http://sp.corp.local/sites/{site}/Shared Documents/{}", self.pick(FILES)).into();
            r.action =
                self.pick(&["Read", "Modified", "Checked in", "Checked out", "Discard check out", "Removed"]).into();
        } else {
            r.object_type = "List".into();
            r.what = format!("http://sp.corp.local/sites/{site}/Lists/Tasks").into();
            r.action = self.pick(&["Added", "Modified", "Removed"]).into();
            if r.action == "Modified" {
                r.details.push(detail("Title", Some("Aufgaben"), Some("Aufgaben – 2024")));
            }
        }
        "http://sp.corp.local (SharePoint farm)".into()
    }

    fn sql_server(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("CORP\\{user}").into();
        r.where_ = "SQL01\\MSSQLSERVER".into();
        match self.rng.random_range(0..3) {
            0 => {
                r.object_type = "Table".into();
                r.what = format!("Databases\\HR\\Tables\\{}", self.pick(TABLES)).into();
                r.action = self.pick(&["Added", "Modified", "Removed", "Read"]).into();
            }
            1 => {
                let name = self.pick(&["sp_UpdateSalary", "sp_Bericht_Übersicht", "usp_Cleanup"]);
                r.object_type = "Stored Procedure".into();
                r.what = format!("Databases\\ReportServer\\Stored Procedures\\dbo.{name}").into();
                r.action = self.pick(&["Added", "Modified", "Removed"]).into();
                if r.action == "Modified" {
                    r.details.push(detail(
                        "Definition",
                        Some(&format!("CREATE PROCEDURE dbo.{name}\r\nAS\r\nBEGIN\r\n    SELECT 1;\r\nEND")),
                        Some(&format!("CREATE PROCEDURE dbo.{name}\r\nAS\r\nBEGIN\r\n    SET NOCOUNT ON;\r\n    SELECT N'Grüße';\r\nEND")),
                    ));
                }
            }
            _ => {
                r.object_type = "Login".into();
                r.what = format!("Security\\Logins\\CORP\\{user}").into();
                r.action = self.pick(&["Successful Logon", "Failed Logon", "Added", "Modified"]).into();
            }
        }
        "SQL01\\MSSQLSERVER (SQL Server instance)".into()
    }

    fn group_policy(&mut self, r: &mut ActivityRecord) -> String {
        let (admin, _) = self.person();
        r.who = format!("CORP\\{admin}").into();
        r.where_ = "dc01.corp.local".into();
        r.object_type = "grouppolicy".into();
        r.what = format!(
            "\\local\\corp\\{}",
            self.pick(&["Default Domain Policy", "Kennwortrichtlinie", "Workstation Lockdown"])
        )
        .into();
        r.action = "Modified".into();
        r.details.push(detail(
            "Computer Configuration/Policies/Windows Settings/Security Settings/Account Policies/Password Policy",
            Some("Minimum password length: 8 characters\nPassword must meet complexity requirements: Disabled"),
            Some("Minimum password length: 14 characters\nPassword must meet complexity requirements: Enabled"),
        ));
        "corp.local (Domain)".into()
    }

    fn entra_id(&mut self, r: &mut ActivityRecord) -> String {
        let (user, display) = self.person();
        r.who = format!("{user}@corp.onmicrosoft.com").into();
        r.where_ = "corp.onmicrosoft.com".into();
        r.object_type = "user".into();
        r.what = format!("{display} ({user}@corp.onmicrosoft.com)").into();
        r.action = self.pick(&["Successful Logon", "Successful Logon", "Failed Logon", "Modified", "Added"]).into();
        if r.action == "Modified" {
            r.details.push(detail("Department", Some("Vertrieb"), Some("Direction générale")));
        }
        "corp.onmicrosoft.com (Office 365 tenant)".into()
    }

    fn windows_server(&mut self, r: &mut ActivityRecord) -> String {
        let (admin, _) = self.person();
        r.who = format!("CORP\\{admin}").into();
        r.where_ = "SRV-APP01.corp.local".into();
        if self.chance(0.5) {
            r.object_type = "Service".into();
            r.what = self.pick(&["Print Spooler", "Windows Update", "Netwrix Auditor Integration API Service"]).into();
            r.action = "Modified".into();
            r.details.push(detail("Start Type", Some("Automatic"), Some("Disabled")));
        } else {
            r.object_type = "Scheduled Task".into();
            r.what = format!(
                "\\Microsoft\\Windows\\{}",
                self.pick(&["Backup", "Defrag\\ScheduledDefrag", "Nächtliche Sicherung"])
            )
            .into();
            r.action = self.pick(&["Added", "Removed", "Modified"]).into();
        }
        "SRV-APP01.corp.local (Computer)".into()
    }

    fn vmware(&mut self, r: &mut ActivityRecord) -> String {
        let (user, _) = self.person();
        r.who = format!("CORP\\{user}").into();
        r.where_ = "vcenter01.corp.local".into();
        r.object_type = "Virtual Machine".into();
        r.what = format!("Datacenters\\Zentrale\\vm\\{}", self.pick(COMPUTERS)).into();
        r.action = self.pick(&["Session start", "Session end", "Modified", "Activated"]).into();
        if r.action == "Modified" {
            r.details.push(detail("Memory", Some("8192 MB"), Some("16384 MB")));
        }
        "vcenter01.corp.local (VMware ESX/ESXi/vCenter)".into()
    }

    fn oracle(&mut self, r: &mut ActivityRecord) -> String {
        r.who = self.pick(&["SYSTEM", "HR_APP", "CORP\\asmirnov"]).into();
        r.where_ = "ora01.corp.local".into();
        r.object_type = "Table".into();
        r.what = format!("HR.{}", self.pick(&["EMPLOYEES", "SALARIES", "DEPARTMENTS"])).into();
        r.action = self.pick(&["Read", "Modified", "Added"]).into();
        "ORCL19 (Oracle Database instance)".into()
    }
}

impl Iterator for Generator {
    type Item = ActivityRecord;

    fn next(&mut self) -> Option<ActivityRecord> {
        Some(self.build())
    }
}

fn detail(property: &str, before: Option<&str>, after: Option<&str>) -> Detail {
    Detail {
        property_name: property.into(),
        before: before.map(Into::into),
        after: after.map(Into::into),
        message: None,
    }
}

/// A stable GUID in braces for a name (monitoring plan IDs).
fn guid_for(name: &str) -> String {
    let h = hex::encode_upper(&Sha256::digest(format!("generated plan:{name}").as_bytes())[..16]);
    format!("{{{}-{}-4{}-A{}-{}}}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}
