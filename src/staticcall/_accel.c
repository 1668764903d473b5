/* staticcall._accel: the optional compiled runtime path.
 *
 * Forwarder is the base type of keys and tracepoints when this module is built. Calling
 * one calls its *effective* callable (a key's target, its NULL raiser, static_call_return0,
 * a tracepoint's probe caller) through vectorcall, with no Python frame and no argument
 * tuple in between. The effective callable lives in a C field that no attribute shows:
 * code that unwraps callables cannot take the target of the moment and keep it.
 *
 * static_call(k) and static_call_cond(k) read the object a key hands out for each form
 * (its trampoline) from two more fields; anything else (a handle, a wrong type) goes to a
 * fallback written in Python, which resolves handles or raises TypeError.
 *
 * Every field is written only under the GIL, by set_target() and set_entries(); a call
 * holds a strong reference to the callable it is running, so an update (or the callable
 * updating its own key) never frees what is running.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

typedef struct {
    PyObject_HEAD
    PyObject *target;      /* the effective callable, or NULL before set_target() */
    PyObject *call_entry;  /* what static_call(k) returns, or NULL */
    PyObject *cond_entry;  /* what static_call_cond(k) returns, or NULL */
    PyObject *dict;
    PyObject *weakreflist;
    vectorcallfunc vectorcall;
} Forwarder;

static PyTypeObject ForwarderType;

/* The Python fallbacks of static_call / static_call_cond (set by set_fallbacks). */
static PyObject *call_fallback = NULL;
static PyObject *cond_fallback = NULL;

#define Forwarder_Check(op) PyObject_TypeCheck((op), &ForwarderType)

static PyObject *
forwarder_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    PyObject *target = ((Forwarder *)self)->target;
    if (target == NULL) {
        PyErr_Format(PyExc_TypeError, "%.200s object has no target yet",
                     Py_TYPE(self)->tp_name);
        return NULL;
    }
    /* A chain of forwarders calling each other is C recursion: let the recursion
       limit, not the C stack, end one that loops. */
    if (Py_EnterRecursiveCall(" while calling a static call")) {
        return NULL;
    }
    Py_INCREF(target);  /* the call may retarget self and drop its reference */
    PyObject *result = PyObject_Vectorcall(target, args, nargsf, kwnames);
    Py_DECREF(target);
    Py_LeaveRecursiveCall();
    return result;
}

static PyObject *
forwarder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwds != NULL && PyDict_GET_SIZE(kwds) != 0)) {
        PyErr_SetString(PyExc_TypeError, "Forwarder() takes no arguments");
        return NULL;
    }
    Forwarder *self = (Forwarder *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = forwarder_vectorcall;
    return (PyObject *)self;
}

static int
forwarder_traverse(Forwarder *self, visitproc visit, void *arg)
{
    /* not the type: a heap subtype's own traverse visits it (and its dealloc drops it) */
    Py_VISIT(self->target);
    Py_VISIT(self->call_entry);
    Py_VISIT(self->cond_entry);
    Py_VISIT(self->dict);
    return 0;
}

static int
forwarder_clear(Forwarder *self)
{
    Py_CLEAR(self->target);
    Py_CLEAR(self->call_entry);
    Py_CLEAR(self->cond_entry);
    Py_CLEAR(self->dict);
    return 0;
}

static void
forwarder_dealloc(Forwarder *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    forwarder_clear(self);
    type->tp_free((PyObject *)self);
}

/* Stored on a class, a forwarder is returned as it is (functions would bind). */
static PyObject *
forwarder_descr_get(PyObject *self, PyObject *obj, PyObject *type)
{
    return Py_NewRef(self);
}

static PyGetSetDef forwarder_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict},
    {NULL},
};

static PyTypeObject ForwarderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "staticcall._accel.Forwarder",
    .tp_doc = PyDoc_STR("The base of keys and tracepoints: calling one calls its "
                        "current target."),
    .tp_basicsize = sizeof(Forwarder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC
                | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = forwarder_new,
    .tp_dealloc = (destructor)forwarder_dealloc,
    .tp_traverse = (traverseproc)forwarder_traverse,
    .tp_clear = (inquiry)forwarder_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Forwarder, vectorcall),
    .tp_descr_get = forwarder_descr_get,
    .tp_dictoffset = offsetof(Forwarder, dict),
    .tp_weaklistoffset = offsetof(Forwarder, weakreflist),
    .tp_getset = forwarder_getset,
};

/* ------------------------------------------------------------------------------------ */

/* The forwarder that is the first of exactly ``expected`` arguments, or NULL with a
   TypeError. */
static Forwarder *
forwarder_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, const char *func)
{
    if (nargs != expected) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)", func, expected,
                     nargs);
        return NULL;
    }
    if (!Forwarder_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s() expects a Forwarder, not %.200s", func,
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    return (Forwarder *)args[0];
}

/* Replaces *slot with value (a new reference taken here); the old value is released
   last, since releasing it may run arbitrary code. */
static void
replace(PyObject **slot, PyObject *value)
{
    PyObject *old = *slot;
    *slot = Py_XNewRef(value);
    Py_XDECREF(old);
}

static PyObject *
set_target(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Forwarder *self = forwarder_arg(args, nargs, 2, "set_target");
    if (self == NULL) {
        return NULL;
    }
    if (!PyCallable_Check(args[1])) {
        PyErr_Format(PyExc_TypeError, "set_target() needs a callable target, not %.200s",
                     Py_TYPE(args[1])->tp_name);
        return NULL;
    }
    replace(&self->target, args[1]);
    Py_RETURN_NONE;
}

static PyObject *
set_entries(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Forwarder *self = forwarder_arg(args, nargs, 3, "set_entries");
    if (self == NULL) {
        return NULL;
    }
    for (int i = 1; i < 3; i++) {
        if (args[i] != Py_None && !PyCallable_Check(args[i])) {
            PyErr_Format(PyExc_TypeError, "set_entries() needs callables or None, not %.200s",
                         Py_TYPE(args[i])->tp_name);
            return NULL;
        }
    }
    replace(&self->call_entry, args[1] == Py_None ? NULL : args[1]);
    replace(&self->cond_entry, args[2] == Py_None ? NULL : args[2]);
    Py_RETURN_NONE;
}

static PyObject *
set_fallbacks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyCallable_Check(args[0]) || !PyCallable_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "set_fallbacks() takes 2 callables");
        return NULL;
    }
    replace(&call_fallback, args[0]);
    replace(&cond_fallback, args[1]);
    Py_RETURN_NONE;
}

/* Subclasses made by a class statement are heap types, which CPython 3.11 does not let
   inherit Py_TPFLAGS_HAVE_VECTORCALL (3.12+ does, and clears it when __call__ is
   assigned). Sets it on a subclass that keeps the inherited call. */
static PyObject *
enable_vectorcall(PyObject *module, PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &ForwarderType)) {
        PyErr_SetString(PyExc_TypeError, "enable_vectorcall() expects a Forwarder subclass");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    if (type->tp_call == ForwarderType.tp_call
            && type->tp_vectorcall_offset == ForwarderType.tp_vectorcall_offset) {
        type->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    }
    return PyBool_FromLong(PyType_HasFeature(type, Py_TPFLAGS_HAVE_VECTORCALL));
}

static PyObject *
lookup(PyObject *obj, PyObject *fallback, int cond)
{
    if (Forwarder_Check(obj)) {
        PyObject *entry = cond ? ((Forwarder *)obj)->cond_entry : ((Forwarder *)obj)->call_entry;
        if (entry != NULL) {
            return Py_NewRef(entry);
        }
    }
    if (fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "staticcall._accel: no fallback set");
        return NULL;
    }
    return PyObject_CallOneArg(fallback, obj);
}

static PyObject *
static_call(PyObject *module, PyObject *key)
{
    return lookup(key, call_fallback, 0);
}

static PyObject *
static_call_cond(PyObject *module, PyObject *key)
{
    return lookup(key, cond_fallback, 1);
}

static PyMethodDef accel_methods[] = {
    {"set_target", (PyCFunction)(void (*)(void))set_target, METH_FASTCALL,
     PyDoc_STR("set_target(forwarder, callable): what calling the forwarder calls.")},
    {"set_entries", (PyCFunction)(void (*)(void))set_entries, METH_FASTCALL,
     PyDoc_STR("set_entries(forwarder, call, cond): what static_call() and "
               "static_call_cond() return for it (None: ask the fallback).")},
    {"set_fallbacks", (PyCFunction)(void (*)(void))set_fallbacks, METH_FASTCALL,
     PyDoc_STR("set_fallbacks(call, cond): called with anything that has no entry.")},
    {"enable_vectorcall", enable_vectorcall, METH_O,
     PyDoc_STR("enable_vectorcall(cls): let calls to instances of a subclass use vectorcall.")},
    {"static_call", static_call, METH_O,
     PyDoc_STR("static_call(key): the key's trampoline (calling it calls the target).")},
    {"static_call_cond", static_call_cond, METH_O,
     PyDoc_STR("static_call_cond(key): the key's trampoline that returns None for NULL.")},
    {NULL},
};

static struct PyModuleDef accel_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "staticcall._accel",
    .m_doc = PyDoc_STR("The optional compiled runtime path of staticcall."),
    .m_size = -1,
    .m_methods = accel_methods,
};

PyMODINIT_FUNC
PyInit__accel(void)
{
    if (PyType_Ready(&ForwarderType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&accel_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Forwarder", (PyObject *)&ForwarderType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
