// The Debian package from `scripts/dev package`, installed into a fresh prefix with dpkg-deb -x:
// its files are there, every NEEDED library resolves inside the prefix or the system (never the
// venv or a build tree), rwkv-tune --version and generate on the demo model work, the studio's
// --self-test passes offscreen, the .tar.gz runs from wherever it is unpacked, and removing the
// prefix leaves nothing behind. Building the package is a separate CPU-only Release build (many
// minutes), so this test exits 77 (skipped) unless RWKV_TEST_PACKAGE=1; `scripts/dev package`
// sets it and runs this test after packing. RWKV_PACKAGE_DIR overrides build-package/packages.
#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <cstdio>

#include "fixtures.h"

namespace {

struct Run {
  int code = -1;
  QString out;  // stdout and stderr
};

Run run(const QString& program, const QStringList& args, const QString& home, int timeoutMs = 600000) {
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.remove("LD_LIBRARY_PATH");  // the bundled libraries must be found through the RPATH alone
  env.insert("HOME", home);
  env.insert("XDG_CONFIG_HOME", home + "/.config");
  env.insert("XDG_DATA_HOME", home + "/.local/share");
  env.insert("XDG_CACHE_HOME", home + "/.cache");
  env.insert("QT_QPA_PLATFORM", "offscreen");
  p.setProcessEnvironment(env);
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(program, args);
  Run r;
  if (!p.waitForStarted(30000)) {
    r.out = program + ": " + p.errorString();
    return r;
  }
  if (!p.waitForFinished(timeoutMs)) {
    p.kill();
    p.waitForFinished();
    r.out = program + " timed out";
    return r;
  }
  r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
  r.out = QString::fromLocal8Bit(p.readAll());
  return r;
}

QString packageDir() {
  const QByteArray env = qgetenv("RWKV_PACKAGE_DIR");
  return env.isEmpty() ? fixtures::sourceDir() + "/build-package/packages" : QString::fromLocal8Bit(env);
}

QString onlyFile(const QString& dir, const QString& pattern) {
  const QStringList found = QDir(dir).entryList({pattern}, QDir::Files);
  return found.size() == 1 ? dir + "/" + found[0] : QString();
}

}  // namespace

class TestPackage : public QObject {
  Q_OBJECT
  QTemporaryDir prefix_, home_;
  QString root_;  // <prefix>/usr

  void checkTree(const QString& root) {
    for (const char* rel : {"bin/rwkv-tune", "bin/rwkv-studio", "share/rwkv-studio/models/demo-small.safetensors",
                            "share/rwkv-studio/models/demo.model", "share/rwkv-studio/tasks/format_train.jsonl",
                            "share/applications/io.github.rwkv_studio.RwkvStudio.desktop",
                            "share/metainfo/io.github.rwkv_studio.RwkvStudio.metainfo.xml",
                            "share/icons/hicolor/scalable/apps/rwkv-studio.svg",
                            "share/icons/hicolor/48x48/apps/rwkv-studio.png",
                            "share/icons/hicolor/256x256/apps/rwkv-studio.png", "lib/rwkv-studio/libtorch_cpu.so"})
      QVERIFY2(QFileInfo::exists(root + "/" + rel), rel);
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(prefix_.isValid() && home_.isValid());
    const QString deb = onlyFile(packageDir(), "rwkv-studio_*.deb");
    QVERIFY2(!deb.isEmpty(), qPrintable("no single rwkv-studio_*.deb in " + packageDir() + " (run scripts/dev package)"));
    const Run x = run("dpkg-deb", {"-x", deb, prefix_.path()}, home_.path());
    QVERIFY2(x.code == 0, qPrintable(x.out));
    root_ = prefix_.path() + "/usr";
  }

  void files() { checkTree(root_); }

  // ldd runs the real loader on each program: every NEEDED (and theirs) resolves, the bundled
  // ones from the prefix through the programs' RPATH, the rest from Debian's /lib and /usr/lib -
  // never from the venv, a build tree or /usr/local; no CUDA LibTorch; and every bundled library
  // is loaded by a program.
  void libraries() {
    const QString bundled = root_ + "/lib/rwkv-studio/";
    QString all;
    for (const char* program : {"rwkv-tune", "rwkv-studio"}) {
      const QString f = root_ + "/bin/" + program;
      const Run l = run("ldd", {f}, home_.path());
      QVERIFY2(l.code == 0, qPrintable(f + ": " + l.out));
      for (const QString& line : l.out.split('\n', Qt::SkipEmptyParts)) {
        const QString found = line.section("=>", 1).trimmed();
        if (!line.contains("=>") || found.isEmpty()) continue;  // linux-vdso, the loader itself
        QVERIFY2(!found.startsWith("not found"), qPrintable(f + ": " + line));
        const QString where = QDir::cleanPath(found.section(" (", 0, 0));  // "<bin>/../lib/..." as the RPATH gave it
        QVERIFY2(where.startsWith(bundled) || where.startsWith("/lib/") || where.startsWith("/usr/lib/"),
                 qPrintable(f + ": " + line));
      }
      QVERIFY2(!l.out.contains("libtorch_cuda"), qPrintable(f + ":\n" + l.out));
      for (const QString& line : l.out.split('\n', Qt::SkipEmptyParts))
        all += QDir::cleanPath(line.section("=>", 1).trimmed().section(" (", 0, 0)) + "\n";
    }
    for (const QString& lib : QDir(bundled).entryList(QDir::Files))
      QVERIFY2(all.contains(bundled + lib), qPrintable("bundled but never loaded: " + lib));
  }

  void metadata() {
    if (QStandardPaths::findExecutable("appstreamcli").isEmpty()) QSKIP("appstreamcli is not installed");
    const Run v = run("appstreamcli", {"validate", "--no-net", "--pedantic",
                                       root_ + "/share/metainfo/io.github.rwkv_studio.RwkvStudio.metainfo.xml"},
                      home_.path());
    QVERIFY2(v.code == 0, qPrintable(v.out));
  }

  void tuneVersion() {
    const Run v = run(root_ + "/bin/rwkv-tune", {"--version"}, home_.path());
    QVERIFY2(v.code == 0, qPrintable(v.out));
    QVERIFY2(v.out.contains(QRegularExpression("\\d+\\.\\d+\\.\\d+")), qPrintable(v.out));
  }

  void generateOnDemoModel() {
    const Run g = run(root_ + "/bin/rwkv-tune",
                      {"generate", "--model", root_ + "/share/rwkv-studio/models/demo-small.safetensors", "--prompt",
                       "User: Where does Kleenzem live?\n\nAssistant:", "--max-tokens", "12", "--seed", "1"},
                      home_.path());
    QVERIFY2(g.code == 0, qPrintable(g.out));
    QVERIFY2(!g.out.trimmed().isEmpty(), "no output");
  }

  void studioSelfTest() {
    const Run s = run(root_ + "/bin/rwkv-studio", {"--self-test"}, home_.path());
    QVERIFY2(s.code == 0, qPrintable(s.out));
    QVERIFY2(s.out.contains("self-test: OK"), qPrintable(s.out));
    QVERIFY2(s.out.contains(root_ + "/share/rwkv-studio/models/demo-small.safetensors"), qPrintable(s.out));
  }

  // The tarball is the same tree under its own folder, and runs from wherever it lands.
  void relocatableTarball() {
    const QString tarball = onlyFile(packageDir(), "rwkv-studio_*.tar.gz");
    QVERIFY2(!tarball.isEmpty(), qPrintable("no single rwkv-studio_*.tar.gz in " + packageDir()));
    QTemporaryDir where;
    const Run x = run("tar", {"-xzf", tarball, "-C", where.path()}, home_.path());
    QVERIFY2(x.code == 0, qPrintable(x.out));
    const QString moved = where.path() + "/somewhere/else";
    QVERIFY(QDir().mkpath(where.path() + "/somewhere"));
    const QStringList top = QDir(where.path()).entryList({"rwkv-studio_*"}, QDir::Dirs);
    QCOMPARE(top.size(), 1);
    QVERIFY(QDir().rename(where.path() + "/" + top[0], moved));
    checkTree(moved);
    const Run v = run(moved + "/bin/rwkv-tune", {"--version"}, home_.path());
    QVERIFY2(v.code == 0, qPrintable(v.out));
  }

  // Removal: the prefix goes, and nothing was written outside it (the home stays empty: the
  // self-test keeps its settings and files in a temporary folder).
  void removeCleanly() {
    QVERIFY(prefix_.remove());
    QVERIFY(!QFileInfo::exists(root_));
    QDirIterator it(home_.path(), QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    QStringList left;
    while (it.hasNext()) left << it.next();
    QVERIFY2(left.isEmpty(), qPrintable("written into HOME: " + left.join(", ")));
  }
};

int main(int argc, char** argv) {
  if (qgetenv("RWKV_TEST_PACKAGE") != "1") {
    std::fprintf(stderr, "skipped: set RWKV_TEST_PACKAGE=1 after scripts/dev package (it does so itself)\n");
    return 77;
  }
  QCoreApplication app(argc, argv);
  TestPackage t;
  return QTest::qExec(&t, argc, argv);
}

#include "test_package.moc"
