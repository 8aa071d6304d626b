// A package in one of the build's site_packages folders (a folder that contains packages).
exports.describe = (runtime) => ({ package: 'contractdep', runtime });
