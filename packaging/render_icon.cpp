// render_icon SVG SIZE OUT.png: the app icon as a PNG of SIZE x SIZE, through Qt's SVG image
// plugin (libqt6svg6; ImageMagick on Debian has no SVG renderer without extra delegates).
#include <QCoreApplication>
#include <QImage>
#include <QImageReader>
#include <cstdio>

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  if (argc != 4) {
    std::fprintf(stderr, "usage: render_icon SVG SIZE OUT.png\n");
    return 2;
  }
  const int size = QString(argv[2]).toInt();
  QImageReader reader(QString::fromLocal8Bit(argv[1]));
  reader.setScaledSize(QSize(size, size));
  const QImage img = reader.read();
  if (img.isNull() || img.width() != size || !img.save(QString::fromLocal8Bit(argv[3]), "PNG")) {
    std::fprintf(stderr, "render_icon: %s -> %s failed: %s\n", argv[1], argv[3], qPrintable(reader.errorString()));
    return 1;
  }
  return 0;
}
